//! Orquesta's inline parameter short form (`orquesta/utils/parameters.py`):
//! `core.echo message="hi" n=3 flag=true list=[1, 2] x=<% item() %>`, and
//! `publish: msg="done" n=<% result() %>`.
//!
//! A value is one of: a bracketed list, a double- or single-quoted string,
//! a number, `true`/`false` (any case), `null`, or one `{{ }}` / `<% %>`
//! expression. Anything else (such as an unquoted word) is not a parameter
//! and is skipped, exactly as Orquesta skips it; values that are not quoted
//! strings are read as JSON when they parse as JSON.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

fn patterns() -> &'static (Regex, Regex) {
    static P: OnceLock<(Regex, Regex)> = OnceLock::new();
    P.get_or_init(|| {
        let params = Regex::new(concat!(
            r#"([\w]+)=(\[.*\]\s*|"[^"]*"\s*|'[^']*'\s*|[-]?\d*\.\d+|[-]?\d+|(?i:true)|(?i:false)|null"#,
            r#"|\{\{.*?\}\}|<%.*?%>)"#
        ))
        .expect("valid pattern");
        let quoted = Regex::new(r#""[^"]*"\s*|'[^']*'\s*"#).expect("valid pattern");
        (params, quoted)
    })
}

/// Parse `k=v k2="v 2"` into ordered pairs; an empty list when the text
/// holds no parameter.
pub fn parse_params(src: &str) -> Vec<(String, Value)> {
    let (params, quoted) = patterns();
    let mut out = Vec::new();
    for c in params.captures_iter(src) {
        let key = c[1].to_string();
        let raw = c[2].trim();
        let quotes_in_param = quoted.is_match(raw);
        let mut v = raw;
        v = v.strip_prefix('"').unwrap_or(v);
        v = v.strip_suffix('"').unwrap_or(v);
        v = v.strip_prefix('\'').unwrap_or(v);
        v = v.strip_suffix('\'').unwrap_or(v);
        let braces = v.starts_with('{') && v.ends_with('}') && !v.is_empty();
        let quoted_string = !v.is_empty() && quotes_in_param && !braces;
        let value = if quoted_string {
            Value::String(v.to_string())
        } else {
            let text = if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
                v.to_ascii_lowercase()
            } else {
                v.to_string()
            };
            serde_json::from_str::<Value>(&text).unwrap_or(Value::String(v.to_string()))
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_forms() {
        let p = parse_params(r#"msg="task2 done", cd=<% result() %>; n=3 flag=True xs=[1, 2]"#);
        assert_eq!(
            p,
            vec![
                ("msg".to_string(), json!("task2 done")),
                ("cd".to_string(), json!("<% result() %>")),
                ("n".to_string(), json!(3)),
                ("flag".to_string(), json!(true)),
                ("xs".to_string(), json!([1, 2])),
            ]
        );
    }

    #[test]
    fn unquoted_words_are_not_parameters() {
        assert_eq!(parse_params("message=hello"), vec![]);
        assert_eq!(parse_params("just words"), vec![]);
        assert_eq!(
            parse_params("a=hello b=2"),
            vec![("b".to_string(), json!(2))]
        );
    }
}
