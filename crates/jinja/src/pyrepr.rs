//! Python's `str()` and `repr()` of template values.
//!
//! Jinja2 prints every value with Python's `str()`: `None`, `True`,
//! `['a', 'b']`, `{'k': 1}`, `1e+20`. StackStorm content relies on that
//! (e.g. a list parameter rendered into a string parameter), so the
//! environment's formatter, `string`, `join` and the `~` replacement in the
//! filters all go through [`py_str`]. Nested values are walked with an
//! explicit stack, so depth is not limited by the Rust stack.

use minijinja::value::{Value, ValueKind};
use unicode_general_category::{get_general_category, GeneralCategory};

use crate::pyobjects::{KvLookup, PyTuple, PyView};

/// Python's `repr(float)`: shortest round-trip digits, exponent form below
/// 1e-4 and from 1e16 on (`1e+20`, `1.5e-05`), `inf`, `nan`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits as d.ddddde<exp>.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let pad = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{pad}.0")
    } else {
        let (i, frac) = digits.split_at(int_len);
        format!("{sign}{i}.{frac}")
    }
}

/// Python's `str.isprintable()` for one character.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`.
pub fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x7f || is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

/// Python's `str()` of a value: text as is, everything else as [`py_repr`].
/// Undefined prints as the empty string (the caller checks strictness).
pub fn py_str(v: &Value) -> String {
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    if v.is_undefined() {
        return String::new();
    }
    if let Some(kv) = v.downcast_object_ref::<KvLookup>() {
        return kv.text();
    }
    py_repr(v)
}

enum Work {
    Value(Value),
    Text(&'static str),
}

/// Python's `repr()` of a value, walked with an explicit stack.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![Work::Value(v.clone())];
    while let Some(work) = stack.pop() {
        let v = match work {
            Work::Text(t) => {
                out.push_str(t);
                continue;
            }
            Work::Value(v) => v,
        };
        if let Some(s) = v.as_str() {
            str_repr(s, &mut out);
            continue;
        }
        if let Some(kv) = v.downcast_object_ref::<KvLookup>() {
            str_repr(&kv.text(), &mut out);
            continue;
        }
        if let Some(t) = v.downcast_object_ref::<PyTuple>() {
            let items = t.items();
            stack.push(Work::Text(")"));
            if items.len() == 1 {
                stack.push(Work::Text(","));
            }
            push_items(&mut stack, items.iter().cloned());
            out.push('(');
            continue;
        }
        if let Some(view) = v.downcast_object_ref::<PyView>() {
            out.push_str(view.type_name());
            out.push_str("([");
            stack.push(Work::Text("])"));
            push_items(&mut stack, view.items().iter().cloned());
            continue;
        }
        match v.kind() {
            ValueKind::Undefined => {}
            ValueKind::None => out.push_str("None"),
            ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
            ValueKind::Number => number_str(&v, &mut out),
            ValueKind::Seq => {
                out.push('[');
                stack.push(Work::Text("]"));
                let items: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
                push_items(&mut stack, items.into_iter());
            }
            ValueKind::Map => {
                out.push('{');
                stack.push(Work::Text("}"));
                let mut pairs = Vec::new();
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let val = v.get_item(&k).unwrap_or(Value::UNDEFINED);
                        pairs.push((k, val));
                    }
                }
                for (i, (k, val)) in pairs.into_iter().enumerate().rev() {
                    stack.push(Work::Value(val));
                    stack.push(Work::Text(": "));
                    stack.push(Work::Value(k));
                    if i > 0 {
                        stack.push(Work::Text(", "));
                    }
                }
            }
            ValueKind::Bytes => {
                out.push_str("b'");
                for b in v.as_bytes().unwrap_or_default() {
                    match b {
                        b'\\' | b'\'' => {
                            out.push('\\');
                            out.push(*b as char);
                        }
                        b'\t' => out.push_str("\\t"),
                        b'\n' => out.push_str("\\n"),
                        b'\r' => out.push_str("\\r"),
                        0x20..=0x7e => out.push(*b as char),
                        _ => out.push_str(&format!("\\x{b:02x}")),
                    }
                }
                out.push('\'');
            }
            _ => out.push_str(&v.to_string()),
        }
    }
    out
}

fn push_items(stack: &mut Vec<Work>, items: impl DoubleEndedIterator<Item = Value>) {
    let items: Vec<Value> = items.collect();
    for (i, item) in items.into_iter().enumerate().rev() {
        stack.push(Work::Value(item));
        if i > 0 {
            stack.push(Work::Text(", "));
        }
    }
}

/// Python's `str()` of an int or float held in a minijinja number.
fn number_str(v: &Value, out: &mut String) {
    if v.is_integer() {
        out.push_str(&v.to_string());
    } else {
        match f64::try_from(v.clone()) {
            Ok(f) => out.push_str(&float_repr(f)),
            Err(_) => out.push_str(&v.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python() {
        let cases = [
            (1.0, "1.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (123.456, "123.456"),
            (1.5e300, "1.5e+300"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn strings_repr_as_python() {
        let mut s = String::new();
        str_repr("it's \"x\"\n\u{a0}é\u{7}", &mut s);
        assert_eq!(s, "'it\\'s \"x\"\\n\\xa0é\\x07'");
        s.clear();
        str_repr("it's", &mut s);
        assert_eq!(s, "\"it's\"");
    }
}
