//! Arguments of StackStorm script actions and POSIX shell quoting, shared by
//! the local and remote script runners.

#![cfg_attr(
    not(any(feature = "local-shell-script", feature = "remote-shell-script")),
    allow(dead_code)
)]

use std::ffi::OsString;

use serde_json::Value;

use crate::protocol::ActionArg;
use crate::pyfmt::{py_json_dumps, py_str};

/// StackStorm's script arguments: named parameters first, in the order given,
/// as `{kwarg_op}{name}={str(value)}` (a `true` boolean as the bare flag;
/// `false`, null and empty strings left out), then the positional parameters
/// ordered by `position`, serialised as StackStorm documents (booleans `1`/`0`,
/// arrays comma-joined, objects as JSON, null as an empty string).
pub(crate) fn script_args(params: &[ActionArg], kwarg_op: &str) -> Vec<OsString> {
    let mut args = Vec::new();
    for p in params.iter().filter(|p| p.position.is_none()) {
        match &p.value {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::Bool(false) => {}
            Value::Bool(true) => args.push(format!("{kwarg_op}{}", p.name).into()),
            value => args.push(format!("{kwarg_op}{}={}", p.name, py_str(value)).into()),
        }
    }
    let mut positional: Vec<&ActionArg> = params.iter().filter(|p| p.position.is_some()).collect();
    positional.sort_by_key(|p| p.position);
    args.extend(
        positional
            .into_iter()
            .map(|p| positional_value(&p.value).into()),
    );
    args
}

/// A positional parameter as StackStorm serialises it for scripts
/// (`st2common/util/action_db.py`, `serialize_positional_argument`).
pub(crate) fn positional_value(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Array(items) => items.iter().map(py_str).collect::<Vec<_>>().join(","),
        Value::Object(map) if map.is_empty() => String::new(),
        Value::Object(_) => py_json_dumps(value),
        other => py_str(other),
    }
}

/// POSIX shell single-quoting, for the `bash -c` line that sudo runs.
pub(crate) fn shell_quote(arg: &[u8]) -> String {
    let s = String::from_utf8_lossy(arg);
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.into_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arg(name: &str, value: Value, position: Option<u32>) -> ActionArg {
        ActionArg {
            name: name.into(),
            value,
            position,
        }
    }

    #[test]
    fn sudo_line_quotes_every_word() {
        assert_eq!(shell_quote(b"/a b/s.sh"), "'/a b/s.sh'");
        assert_eq!(shell_quote(b"--x=it's"), r"'--x=it'\''s'");
        assert_eq!(shell_quote(b"--x=1"), "--x=1");
        assert_eq!(shell_quote(b""), "''");
    }

    #[test]
    fn positional_serialisation_follows_stackstorm_docs() {
        let args = script_args(
            &[
                arg("b", json!(["x", 2]), Some(1)),
                arg("a", json!(false), Some(0)),
                arg("c", json!({"k": "v"}), Some(2)),
                arg("d", json!(null), Some(3)),
            ],
            "--",
        );
        assert_eq!(args, ["0", "x,2", r#"{"k": "v"}"#, ""]);
    }
}
