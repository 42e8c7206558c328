//! Python's `str()` and `repr()` of YAQL values: yaql's `str()` function
//! and Orquesta's rendering of an expression inside text both use them
//! (`"{'a': 1} True None"`, `"(1, 'a')"`).

use chrono::{Datelike, Timelike};

use super::error::R;
use super::interp::iterate;
use super::value::{SetKind, V};

/// Python's `repr(float)`: shortest round-trip digits, exponent form below
/// 1e-4 and from 1e16.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let s = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{s}")
    } else {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `repr(str)`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if matches!(c as u32, 0x2028 | 0x2029 | 0xad | 0xfeff) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str(timedelta)`.
pub fn timespan_str(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let secs = rest / 1_000_000;
    let us = rest % 1_000_000;
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        out.push_str(&format!("{days} day{plural}, "));
    }
    out.push_str(&format!(
        "{}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    ));
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
    out
}

/// Python's `str(datetime)` for an aware datetime.
pub fn datetime_str(d: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    let us = d.nanosecond() / 1000;
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
    out.push_str(&offset_str(d.offset().local_minus_utc()));
    out
}

fn offset_str(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    let mut s = format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
    if a % 60 != 0 {
        s.push_str(&format!(":{:02}", a % 60));
    }
    s
}

fn datetime_repr(d: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let mut parts = vec![
        d.year().to_string(),
        d.month().to_string(),
        d.day().to_string(),
        d.hour().to_string(),
        d.minute().to_string(),
    ];
    let us = d.nanosecond() / 1000;
    if d.second() != 0 || us != 0 {
        parts.push(d.second().to_string());
    }
    if us != 0 {
        parts.push(us.to_string());
    }
    let off = d.offset().local_minus_utc();
    let tz = if off == 0 {
        "tzutc()".to_string()
    } else {
        format!("tzoffset(None, {off})")
    };
    format!("datetime.datetime({}, tzinfo={tz})", parts.join(", "))
}

fn timespan_repr(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (secs, us) = (rest / 1_000_000, rest % 1_000_000);
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if secs != 0 {
        parts.push(format!("seconds={secs}"));
    }
    if us != 0 {
        parts.push(format!("microseconds={us}"));
    }
    if parts.is_empty() {
        parts.push("0".into());
    }
    format!("datetime.timedelta({})", parts.join(", "))
}

/// Python's `str(value)`. With `finalized`, the value is shown as yaql
/// returns it to Orquesta (tuples and generators as lists, frozensets as
/// sets), which is how Orquesta renders it into text.
pub fn py_str(v: &V<'_>, finalized: bool) -> R<String> {
    match v {
        V::Str(s) => Ok(s.to_string()),
        V::DateTime(d) => Ok(datetime_str(d)),
        V::TimeSpan(t) => Ok(timespan_str(*t)),
        _ => {
            let mut out = String::new();
            repr(v, finalized, &mut out)?;
            Ok(out)
        }
    }
}

fn seq(items: &[V<'_>], open: &str, close: &str, fin: bool, out: &mut String) -> R<()> {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr(item, fin, out)?;
    }
    if open == "(" && items.len() == 1 {
        out.push(',');
    }
    out.push_str(close);
    Ok(())
}

/// Python's `repr(value)` appended to `out`.
pub fn repr(v: &V<'_>, fin: bool, out: &mut String) -> R<()> {
    match v {
        V::Null => out.push_str("None"),
        V::Bool(true) => out.push_str("True"),
        V::Bool(false) => out.push_str("False"),
        V::Int(i) => out.push_str(&i.to_string()),
        V::Float(f) => out.push_str(&float_repr(*f)),
        V::Str(s) => out.push_str(&str_repr(s)),
        V::JArr(_) | V::Tuple(_) => {
            let items = v.seq_items().unwrap_or_default();
            if fin {
                seq(&items, "[", "]", fin, out)?;
            } else {
                seq(&items, "(", ")", fin, out)?;
            }
        }
        V::List(items) => seq(items, "[", "]", fin, out)?,
        V::JMap(_) | V::Dict(_) => {
            out.push('{');
            for (i, (k, val)) in v.map_items().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(k, fin, out)?;
                out.push_str(": ");
                repr(val, fin, out)?;
            }
            out.push('}');
        }
        V::Set(_, SetKind::Keys(m) | SetKind::Items(m)) if !fin => {
            out.push_str(v.type_name());
            out.push('(');
            repr(m, fin, out)?;
            out.push(')');
        }
        V::Set(s, _) => {
            let items: Vec<V<'_>> = s.iter().cloned().collect();
            match (fin, items.is_empty()) {
                (true, true) => out.push_str("set()"),
                (true, false) => {
                    if let Some(bad) = items.iter().find(|v| v.is_iterable() || v.is_mapping()) {
                        let what = if bad.is_mapping() { "dict" } else { "list" };
                        return Err(super::error::type_error(format!(
                            "unhashable type: '{what}'"
                        )));
                    }
                    seq(&items, "{", "}", fin, out)?
                }
                (false, true) => out.push_str("frozenset()"),
                (false, false) => seq(&items, "frozenset({", "})", fin, out)?,
            }
        }
        V::Values(_, mapping) if !fin => {
            out.push_str("ValuesView(");
            repr(mapping, fin, out)?;
            out.push(')');
        }
        V::Iter(_) | V::Ordered(_) | V::Values(..) => {
            if fin {
                let items = iterate(v)?.collect::<R<Vec<_>>>()?;
                seq(&items, "[", "]", fin, out)?;
            } else {
                out.push_str("<generator object at 0x0>");
            }
        }
        V::DateTime(d) => out.push_str(&datetime_repr(d)),
        V::TimeSpan(t) => out.push_str(&timespan_repr(*t)),
        V::Regex(r) => {
            out.push_str("re.compile(");
            out.push_str(&str_repr(&r.pattern));
            let names: Vec<&str> = [
                (2u32, "re.IGNORECASE"),
                (8, "re.MULTILINE"),
                (16, "re.DOTALL"),
            ]
            .iter()
            .filter(|(bit, _)| r.flags & bit != 0)
            .map(|(_, n)| *n)
            .collect();
            if !names.is_empty() {
                out.push_str(", ");
                out.push_str(&names.join("|"));
            }
            out.push(')');
        }
        V::Context(_) => out.push_str("<yaql.language.contexts.Context object at 0x0>"),
        V::Rule(_) => out.push_str("<yaql.language.utils.MappingRule object at 0x0>"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(-2.5), "-2.5");
        assert_eq!(float_repr(123456.789), "123456.789");
    }

    #[test]
    fn strings_repr_as_python() {
        assert_eq!(str_repr("a"), "'a'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(str_repr("a\nb\\"), "'a\\nb\\\\'");
    }

    #[test]
    fn timespans_print_as_python() {
        assert_eq!(timespan_str(0), "0:00:00");
        assert_eq!(timespan_str(93_784_000_005), "1 day, 2:03:04.000005");
        assert_eq!(timespan_str(-1_000_000), "-1 day, 23:59:59");
    }
}
