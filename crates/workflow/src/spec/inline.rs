//! Orquesta's inline parameter short form: `core.echo message=<% item() %>`
//! and `publish: msg="done", n=<% result() %>`, delimited by spaces, commas
//! or semicolons; expressions and quoted strings may contain delimiters.

use serde_json::Value;

/// Parse `k=v k2="v 2"` into ordered pairs.
pub fn parse_params(src: &str) -> Result<Vec<(String, Value)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_delim = |c: char| c.is_whitespace() || c == ',' || c == ';';
    loop {
        while i < chars.len() && is_delim(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || "_-.".contains(chars[i])) {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        if key.is_empty() || chars.get(i) != Some(&'=') {
            let rest: String = chars[start..].iter().collect();
            return Err(format!("expected name=value, found \"{rest}\""));
        }
        i += 1;
        let (value, next) = read_value(&chars, i)?;
        i = next;
        out.push((key, value));
    }
}

fn read_value(chars: &[char], mut i: usize) -> Result<(Value, usize), String> {
    if let Some(&q) = chars.get(i).filter(|c| **c == '"' || **c == '\'') {
        let mut s = String::new();
        i += 1;
        while let Some(&c) = chars.get(i) {
            if c == q {
                return Ok((Value::String(s), i + 1));
            }
            if c == '\\' && chars.get(i + 1) == Some(&q) {
                s.push(q);
                i += 2;
                continue;
            }
            s.push(c);
            i += 1;
        }
        return Err("unterminated quoted value".into());
    }
    let start = i;
    while i < chars.len() {
        let rest = &chars[i..];
        let closer = if rest.starts_with(&['<', '%']) {
            Some(['%', '>'])
        } else if rest.starts_with(&['{', '{']) {
            Some(['}', '}'])
        } else {
            None
        };
        if let Some(close) = closer {
            i += 2;
            while i < chars.len() && !chars[i..].starts_with(&close) {
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated expression in value".into());
            }
            i += 2;
            continue;
        }
        let c = chars[i];
        if c.is_whitespace() || c == ',' || c == ';' {
            break;
        }
        i += 1;
    }
    let text: String = chars[start..i].iter().collect();
    let value = if text.contains("<%") || text.contains("{{") {
        Value::String(text)
    } else {
        // Plain words keep YAML's scalar typing: 3 is a number, true a bool.
        serde_yaml::from_str::<Value>(&text)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array())
            .unwrap_or(Value::String(text))
    };
    Ok((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_forms() {
        let p = parse_params(r#"msg="task2 done", cd=<% result() %>; n=3 flag=true"#).unwrap();
        assert_eq!(
            p,
            vec![
                ("msg".to_string(), json!("task2 done")),
                ("cd".to_string(), json!("<% result() %>")),
                ("n".to_string(), json!(3)),
                ("flag".to_string(), json!(true)),
            ]
        );
        let p = parse_params("message=<% item(x) + ' y' %>").unwrap();
        assert_eq!(p[0].1, json!("<% item(x) + ' y' %>"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_params("just words").is_err());
        assert!(parse_params("a=\"open").is_err());
    }
}
