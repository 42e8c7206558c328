//! StackStorm's expression functions over `serde_json::Value`, callable by
//! name: the same functions StackStorm registers as Jinja filters
//! (`st2common/util/jinja.py`) and as Orquesta functions for YAQL and Jinja
//! (`contrib/runners/orquesta_runner/setup.py`). The Jinja environment
//! wraps these; the YAQL evaluator can call [`call`] directly.

mod json;
mod jsonpath;
mod path;
pub(crate) mod pyre;
mod time;
mod version;
mod yaml_dump;
mod yaml_load;
mod yaml_resolve;

use serde_json::{Map, Value};

use crate::datastore::{split_scope, Datastore};
use crate::error::{FunctionError, FunctionErrorKind as Kind};
use crate::pyrepr::py_str;

pub use json::{dumps as json_dumps, DumpOptions};

/// StackStorm's Jinja filters (`get_filters()` in `st2common/util/jinja.py`).
pub const ST2_FILTERS: &[&str] = &[
    "decrypt_kv",
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "jsonpath_query",
    "to_complex",
    "to_json_string",
    "to_yaml_string",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "use_none",
    "basename",
    "dirname",
];

/// The functions StackStorm registers for Orquesta (YAQL and Jinja), less
/// Orquesta's own (`ctx`, `task`, ...), which the workflow engine provides.
pub const ORQUESTA_FUNCTIONS: &[&str] = &[
    "st2kv",
    "basename",
    "dirname",
    "from_json_string",
    "from_yaml_string",
    "json_dump",
    "json_parse",
    "json_escape",
    "jsonpath_query",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "to_json_string",
    "to_yaml_string",
    "use_none",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "yaml_dump",
    "yaml_parse",
];

/// StackStorm's marker for `None` (`use_none`), which its parameter
/// casting turns back into `None`.
pub const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

/// What a function call may use besides its arguments.
#[derive(Clone, Copy, Default)]
pub struct CallContext<'a> {
    /// The datastore for `st2kv` and `decrypt_kv`; without it they fail.
    pub datastore: Option<&'a dyn Datastore>,
}

/// Binds positional and keyword arguments to a Python-style signature;
/// parameters after `required` are optional.
fn bind<'a>(
    func: &str,
    params: &[&str],
    required: usize,
    args: &'a [Value],
    kwargs: &'a Map<String, Value>,
) -> Result<Vec<Option<&'a Value>>, FunctionError> {
    let ty = |m: String| FunctionError::new(func, Kind::Type, m);
    if args.len() > params.len() {
        return Err(ty(format!(
            "{func}() takes {} positional arguments but {} were given",
            params.len(),
            args.len()
        )));
    }
    let mut out: Vec<Option<&Value>> = args.iter().map(Some).collect();
    out.resize(params.len(), None);
    for (k, v) in kwargs {
        let Some(i) = params.iter().position(|p| p == k) else {
            return Err(ty(format!(
                "{func}() got an unexpected keyword argument '{k}'"
            )));
        };
        if out[i].is_some() {
            return Err(ty(format!(
                "{func}() got multiple values for argument '{k}'"
            )));
        }
        out[i] = Some(v);
    }
    if let Some(missing) = (0..required).find(|i| out[*i].is_none()) {
        return Err(ty(format!(
            "{func}() missing a required argument: '{}'",
            params[missing]
        )));
    }
    Ok(out)
}

/// Python's `str(value)` of a JSON value.
pub fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_str(&minijinja::Value::from_serialize(other)),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

fn want_str<'a>(func: &str, what: &str, v: &'a Value) -> Result<&'a str, FunctionError> {
    v.as_str()
        .ok_or_else(|| FunctionError::new(func, Kind::Type, format!("{what} must be a string")))
}

fn int_arg(func: &str, what: &str, v: &Value) -> Result<i64, FunctionError> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
        _ => Err(FunctionError::new(
            func,
            Kind::Type,
            format!("{what} must be an integer"),
        )),
    }
}

fn semver(func: &str, v: &Value) -> Result<version::SemVer, FunctionError> {
    let s = want_str(func, "the version", v)?;
    version::SemVer::parse(s).ok_or_else(|| {
        FunctionError::new(
            func,
            Kind::Value,
            "the version is not a valid SemVer string (MAJOR.MINOR.PATCH)",
        )
    })
}

fn regex(
    func: &str,
    pattern: &Value,
    ignorecase: Option<&Value>,
) -> Result<std::sync::Arc<pyre::PyRegex>, FunctionError> {
    let p = want_str(func, "the pattern", pattern)?;
    pyre::PyRegex::cached(p, truthy(ignorecase))
        .map_err(|e| FunctionError::new(func, Kind::Value, e.0))
}

/// Calls the StackStorm function `name`. `None` when there is no such
/// function; otherwise its result or Python's error for it.
pub fn call(
    name: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
    cx: &CallContext<'_>,
) -> Option<Result<Value, FunctionError>> {
    let known = ST2_FILTERS.contains(&name) || ORQUESTA_FUNCTIONS.contains(&name);
    known.then(|| dispatch(name, args, kwargs, cx))
}

fn dispatch(
    name: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
    cx: &CallContext<'_>,
) -> Result<Value, FunctionError> {
    let val = |m: String| FunctionError::new(name, Kind::Value, m);
    match name {
        "from_json_string" | "json_parse" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            let text = value_str(a[0].expect("bound"));
            serde_json::from_str(&text)
                .map_err(|e| val(format!("the value is not valid JSON: {e}")))
        }
        "from_yaml_string" | "yaml_parse" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            yaml_load::load(&value_str(a[0].expect("bound"))).map_err(val)
        }
        "to_json_string" | "json_dump" => {
            let a = bind(
                name,
                &["value", "indent", "sort_keys", "separators"],
                1,
                args,
                kwargs,
            )?;
            let indent = match a[1] {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => Some(" ".repeat(int_arg(name, "indent", v)?.max(0) as usize)),
            };
            let (item_sep, key_sep) = match a[3] {
                None => (",".to_string(), ": ".to_string()),
                Some(Value::Null) => {
                    if indent.is_some() {
                        (",".into(), ": ".into())
                    } else {
                        (", ".into(), ": ".into())
                    }
                }
                Some(Value::Array(seps)) if seps.len() == 2 => (
                    want_str(name, "separators", &seps[0])?.to_string(),
                    want_str(name, "separators", &seps[1])?.to_string(),
                ),
                Some(_) => return Err(val("separators must be a pair of strings".into())),
            };
            let opts = DumpOptions {
                indent,
                item_sep: &item_sep,
                key_sep: &key_sep,
                sort_keys: truthy(a[2]),
            };
            Ok(Value::String(json::dumps(a[0].expect("bound"), &opts)))
        }
        "to_yaml_string" | "yaml_dump" => {
            let a = bind(name, &["value", "indent", "allow_unicode"], 1, args, kwargs)?;
            let indent = match a[1] {
                None | Some(Value::Null) => None,
                Some(v) => Some(int_arg(name, "indent", v)?),
            };
            let allow_unicode = a[2].is_none_or(|v| v.is_null() || truthy(Some(v)));
            Ok(Value::String(yaml_dump::dump_with(
                a[0].expect("bound"),
                indent,
                allow_unicode,
            )))
        }
        "json_escape" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            let s = json::dumps(a[0].expect("bound"), &DumpOptions::default());
            Ok(Value::String(s.trim_matches('"').to_string()))
        }
        "to_complex" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            Ok(Value::String(json::dumps(
                a[0].expect("bound"),
                &DumpOptions::default(),
            )))
        }
        "jsonpath_query" => {
            let a = bind(name, &["value", "query"], 2, args, kwargs)?;
            let q = want_str(name, "the query", a[1].expect("bound"))?;
            jsonpath::query(a[0].expect("bound"), q).map_err(val)
        }
        "regex_match" | "regex_search" => {
            let a = bind(name, &["value", "pattern", "ignorecase"], 2, args, kwargs)?;
            let text = value_str(a[0].expect("bound"));
            let found = if name == "regex_match" {
                let p = want_str(name, "the pattern", a[1].expect("bound"))?;
                pyre::PyRegex::is_match_at_start(p, truthy(a[2]), &text)
            } else {
                regex(name, a[1].expect("bound"), a[2])?.search(&text)
            };
            found.map(Value::Bool).map_err(|e| val(e.0))
        }
        "regex_replace" => {
            let a = bind(
                name,
                &["value", "pattern", "replacement", "ignorecase"],
                3,
                args,
                kwargs,
            )?;
            let text = value_str(a[0].expect("bound"));
            let re = regex(name, a[1].expect("bound"), a[3])?;
            let repl = want_str(name, "the replacement", a[2].expect("bound"))?;
            re.sub(repl, &text).map(Value::String).map_err(|e| val(e.0))
        }
        "regex_substring" => {
            let a = bind(
                name,
                &["value", "pattern", "result_index", "ignorecase"],
                2,
                args,
                kwargs,
            )?;
            let text = value_str(a[0].expect("bound"));
            let re = regex(name, a[1].expect("bound"), a[3])?;
            let found = re.findall(&text).map_err(|e| val(e.0))?;
            let idx = match a[2] {
                None => 0,
                Some(v) => int_arg(name, "result_index", v)?,
            };
            let len = found.len() as i64;
            let i = if idx < 0 { idx + len } else { idx };
            let item = usize::try_from(i)
                .ok()
                .and_then(|i| found.get(i))
                .ok_or_else(|| FunctionError::new(name, Kind::Index, "list index out of range"))?;
            Ok(match item {
                pyre::Found::Text(s) => Value::String(s.clone()),
                pyre::Found::Groups(g) => {
                    Value::Array(g.iter().cloned().map(Value::String).collect())
                }
            })
        }
        "to_human_time_from_seconds" => {
            let a = bind(name, &["seconds"], 1, args, kwargs)?;
            let v = a[0].expect("bound");
            let (f, is_int) = match v {
                Value::Bool(b) => (f64::from(u8::from(*b)), true),
                Value::Number(n) => (n.as_f64().unwrap_or(0.0), !n.is_f64()),
                _ => {
                    return Err(FunctionError::new(
                        name,
                        Kind::Type,
                        "the seconds must be an int or a float (AssertionError)",
                    ))
                }
            };
            time::human_time(f, is_int, &value_str(v))
                .map(Value::String)
                .map_err(|m| FunctionError::new(name, Kind::Value, m))
        }
        "version_compare" | "version_more_than" | "version_less_than" | "version_equal" => {
            let a = bind(name, &["value", "pattern"], 2, args, kwargs)?;
            let v = semver(name, a[0].expect("bound"))?;
            let other = semver(name, a[1].expect("bound"))?;
            let c = v.compare(&other);
            Ok(match name {
                "version_compare" => Value::from(c),
                "version_more_than" => Value::Bool(c == 1),
                "version_less_than" => Value::Bool(c == -1),
                _ => Value::Bool(c == 0),
            })
        }
        "version_match" => {
            let a = bind(name, &["value", "pattern"], 2, args, kwargs)?;
            let v = semver(name, a[0].expect("bound"))?;
            let expr = want_str(name, "the match expression", a[1].expect("bound"))?;
            version::match_expr(&v, expr).map(Value::Bool).map_err(val)
        }
        "version_bump_major"
        | "version_bump_minor"
        | "version_bump_patch"
        | "version_strip_patch" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            let v = semver(name, a[0].expect("bound"))?;
            Ok(Value::String(match name {
                "version_bump_major" => v.bump_major(),
                "version_bump_minor" => v.bump_minor(),
                "version_bump_patch" => v.bump_patch(),
                _ => v.strip_patch(),
            }))
        }
        "use_none" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            Ok(match a[0].expect("bound") {
                Value::Null => Value::String(NONE_MAGIC_VALUE.into()),
                v => v.clone(),
            })
        }
        "basename" | "dirname" => {
            let a = bind(name, &["path"], 1, args, kwargs)?;
            let p = want_str(name, "the path", a[0].expect("bound"))?;
            Ok(Value::String(if name == "basename" {
                path::basename(p)
            } else {
                path::dirname(p)
            }))
        }
        "decrypt_kv" => {
            let a = bind(name, &["value"], 1, args, kwargs)?;
            let store = cx.datastore.ok_or_else(|| {
                FunctionError::new(
                    name,
                    Kind::Datastore,
                    "no datastore is available to decrypt the value",
                )
            })?;
            let text = value_str(a[0].expect("bound"));
            store
                .decrypt(&text)
                .map(Value::String)
                .map_err(|m| FunctionError::new(name, Kind::Datastore, m))
        }
        "st2kv" => {
            let key = match args.first() {
                Some(k) => want_str(name, "the key", k)?,
                None => {
                    return Err(FunctionError::new(
                        name,
                        Kind::Type,
                        "st2kv() missing a required argument: 'key'",
                    ))
                }
            };
            if args.len() > 1 {
                return Err(FunctionError::new(
                    name,
                    Kind::Type,
                    "st2kv() takes 1 positional argument",
                ));
            }
            let decrypt = match kwargs.get("decrypt") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(FunctionError::new(
                        name,
                        Kind::Type,
                        "Decrypt parameter is not typeof bool.",
                    ))
                }
            };
            let store = cx.datastore.ok_or_else(|| {
                FunctionError::new(
                    name,
                    Kind::Datastore,
                    "no datastore is available to read the key",
                )
            })?;
            let (scope, k) = split_scope(key);
            match store.get(scope, k, decrypt) {
                Ok(Some(v)) => Ok(Value::String(v)),
                Ok(None) => match kwargs.get("default") {
                    Some(d) => Ok(d.clone()),
                    None => Err(FunctionError::new(
                        name,
                        Kind::Datastore,
                        format!("The key \"{key}\" does not exist in the StackStorm datastore."),
                    )),
                },
                Err(m) => Err(FunctionError::new(name, Kind::Datastore, m)),
            }
        }
        other => Err(FunctionError::new(
            other,
            Kind::Type,
            "no such StackStorm function",
        )),
    }
}
