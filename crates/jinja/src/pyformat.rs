//! Python's two string formatting languages: `str.format()` (the format
//! spec mini-language) and printf-style `%`, which Jinja2's `format` filter
//! uses (`"%s-%d"|format(a, 1)`). Values print with Python's `str()`/`repr()`.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::pyrepr::{float_repr, py_repr, py_str};

fn op(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

#[derive(Default)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alt: bool,
    zero: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    ty: Option<char>,
}

fn parse_spec(spec: &str) -> Result<Spec, Error> {
    let c: Vec<char> = spec.chars().collect();
    let mut s = Spec::default();
    let mut i = 0;
    let is_align = |ch: char| "<>=^".contains(ch);
    if c.len() >= 2 && is_align(c[1]) {
        s.fill = Some(c[0]);
        s.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        s.align = Some(c[0]);
        i = 1;
    }
    if i < c.len() && "+- ".contains(c[i]) {
        s.sign = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == '#' {
        s.alt = true;
        i += 1;
    }
    if i < c.len() && c[i] == '0' {
        s.zero = true;
        i += 1;
    }
    let start = i;
    while i < c.len() && c[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        s.width = c[start..i]
            .iter()
            .collect::<String>()
            .parse()
            .map_err(|_| op("width too big"))?;
    }
    if i < c.len() && (c[i] == ',' || c[i] == '_') {
        s.grouping = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == '.' {
        i += 1;
        let start = i;
        while i < c.len() && c[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(op("Format specifier missing precision (ValueError)"));
        }
        s.precision = Some(
            c[start..i]
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| op("precision too big"))?,
        );
    }
    if i < c.len() {
        s.ty = Some(c[i]);
        i += 1;
    }
    if i != c.len() {
        return Err(op("Invalid format specifier (ValueError)"));
    }
    Ok(s)
}

fn group(digits: &str, sep: char, every: usize) -> String {
    let (int, frac) = match digits.find('.') {
        Some(p) => (&digits[..p], &digits[p..]),
        None => (digits, ""),
    };
    let chars: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, ch) in chars.iter().enumerate() {
        if i > 0 && (chars.len() - i).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(*ch);
    }
    out + frac
}

fn sci(f: f64, prec: usize, upper: bool) -> String {
    let s = format!("{f:.prec$e}");
    let (m, e) = s
        .split_once('e')
        .expect("scientific format has an exponent");
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let out = format!("{m}e{sign}{:02}", e.abs());
    if upper {
        out.to_uppercase()
    } else {
        out
    }
}

fn general(f: f64, prec: usize, alt: bool, upper: bool) -> String {
    if !f.is_finite() {
        return special(f, upper);
    }
    let p = prec.max(1);
    let probe = format!("{f:.prec$e}", prec = p - 1);
    let exp: i32 = probe
        .split_once('e')
        .map_or(0, |(_, e)| e.parse().unwrap_or(0));
    let mut s = if -4 <= exp && exp < p as i32 {
        format!("{f:.prec$}", prec = (p as i32 - 1 - exp).max(0) as usize)
    } else {
        sci(f, p - 1, upper)
    };
    if !alt {
        let (m, e) = match s.find(['e', 'E']) {
            Some(i) => (s[..i].to_string(), s[i..].to_string()),
            None => (s.clone(), String::new()),
        };
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            m
        };
        s = m + &e;
    }
    s
}

fn special(f: f64, upper: bool) -> String {
    let s = if f.is_nan() {
        "nan"
    } else if f > 0.0 {
        "inf"
    } else {
        "-inf"
    };
    if upper {
        s.to_uppercase()
    } else {
        s.to_string()
    }
}

fn as_float(v: &Value) -> Option<f64> {
    if v.kind() == ValueKind::Number || v.kind() == ValueKind::Bool {
        f64::try_from(v.clone())
            .ok()
            .or_else(|| v.as_i64().map(|i| i as f64))
    } else {
        None
    }
}

fn as_int(v: &Value) -> Option<i128> {
    match v.kind() {
        ValueKind::Bool => Some(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
        _ => None,
    }
}

/// Formats a number body (no sign) for a type; `None` when the type does
/// not apply to the value.
fn number_body(v: &Value, spec: &Spec) -> Result<Option<(bool, String)>, Error> {
    let prec = spec.precision;
    if let Some(i) = as_int(v) {
        let neg = i < 0;
        let a = i.unsigned_abs();
        let body = match spec.ty {
            None | Some('d') | Some('n') => a.to_string(),
            Some('x') => format!("{}{a:x}", if spec.alt { "0x" } else { "" }),
            Some('X') => format!("{}{a:X}", if spec.alt { "0X" } else { "" }),
            Some('o') => format!("{}{a:o}", if spec.alt { "0o" } else { "" }),
            Some('b') => format!("{}{a:b}", if spec.alt { "0b" } else { "" }),
            Some('c') => char::from_u32(a as u32)
                .map(String::from)
                .unwrap_or_default(),
            Some(_) => return float_body(i as f64, spec).map(Some),
        };
        if spec.precision.is_some() && matches!(spec.ty, None | Some('d')) {
            return Err(op(
                "Precision not allowed in integer format specifier (ValueError)",
            ));
        }
        let body = match spec.grouping {
            Some(g) => group(&body, g, 3),
            None => body,
        };
        let _ = prec;
        return Ok(Some((neg, body)));
    }
    if let Some(f) = as_float(v) {
        return float_body(f, spec).map(Some);
    }
    Ok(None)
}

fn float_body(f: f64, spec: &Spec) -> Result<(bool, String), Error> {
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let a = f.abs();
    let p = spec.precision.unwrap_or(6);
    let body = match spec.ty {
        Some('f') | Some('F') => {
            if a.is_finite() {
                format!("{a:.p$}")
            } else {
                special(a, spec.ty == Some('F'))
            }
        }
        Some('e') | Some('E') => {
            if a.is_finite() {
                sci(a, p, spec.ty == Some('E'))
            } else {
                special(a, spec.ty == Some('E'))
            }
        }
        Some('g') | Some('G') => general(a, p, spec.alt, spec.ty == Some('G')),
        Some('%') => format!("{:.p$}%", a * 100.0),
        None => match spec.precision {
            Some(p) => general(a, p, spec.alt, false),
            None => float_repr(a),
        },
        Some(t) => {
            return Err(op(format!(
                "Unknown format code '{t}' for object of type 'float' (ValueError)"
            )))
        }
    };
    let body = match spec.grouping {
        Some(g) => group(&body, g, 3),
        None => body,
    };
    Ok((neg, body))
}

fn pad(body: String, spec: &Spec, default_align: char, sign: &str) -> String {
    let len = body.chars().count() + sign.chars().count();
    let fill = spec.fill.unwrap_or(if spec.zero && spec.align.is_none() {
        '0'
    } else {
        ' '
    });
    let align = spec.align.unwrap_or(if spec.zero && spec.fill.is_none() {
        '='
    } else {
        default_align
    });
    if len >= spec.width {
        return format!("{sign}{body}");
    }
    let n = spec.width - len;
    let f = |k: usize| std::iter::repeat_n(fill, k).collect::<String>();
    match align {
        '<' => format!("{sign}{body}{}", f(n)),
        '>' => format!("{}{sign}{body}", f(n)),
        '^' => format!("{}{sign}{body}{}", f(n / 2), f(n - n / 2)),
        _ => format!("{sign}{}{body}", f(n)),
    }
}

/// `format(value, spec)`.
fn format_value(v: &Value, spec_text: &str) -> Result<String, Error> {
    if spec_text.is_empty() {
        return Ok(py_str(v));
    }
    let spec = parse_spec(spec_text)?;
    if let Some(s) = v.as_str() {
        if !matches!(spec.ty, None | Some('s')) {
            return Err(op(format!(
                "Unknown format code '{}' for object of type 'str' (ValueError)",
                spec.ty.unwrap_or(' ')
            )));
        }
        let body: String = match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        };
        return Ok(pad(body, &spec, '<', ""));
    }
    if v.kind() == ValueKind::Bool && spec.ty.is_none() {
        return Ok(pad(py_str(v), &spec, '<', ""));
    }
    match number_body(v, &spec)? {
        Some((neg, body)) => {
            let sign = if neg {
                "-"
            } else {
                match spec.sign {
                    Some('+') => "+",
                    Some(' ') => " ",
                    _ => "",
                }
            };
            Ok(pad(body, &spec, '>', sign))
        }
        None => Err(op(format!(
            "unsupported format string passed to {}.__format__ (TypeError)",
            v.kind()
        ))),
    }
}

fn lookup(mut v: Value, chain: &str) -> Result<Value, Error> {
    let mut rest = chain;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            v = v.get_attr(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| op("Missing ']' in format string (ValueError)"))?;
            let key = &r[..end];
            v = match key.parse::<i64>() {
                Ok(i) => v.get_item(&Value::from(i))?,
                Err(_) => v.get_item(&Value::from(key))?,
            };
            rest = &r[end + 1..];
        } else {
            return Err(op(
                "Only '.' or '[' may follow ']' in format field specifier (ValueError)",
            ));
        }
        if v.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "format field not found (KeyError)",
            ));
        }
    }
    Ok(v)
}

/// Python's `str.format(*args, **kwargs)`.
pub fn str_format(template: &str, args: &[Value], kwargs: &Kwargs) -> Result<String, Error> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut auto = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '}' {
            if chars.get(i + 1) == Some(&'}') {
                out.push('}');
                i += 2;
                continue;
            }
            return Err(op("Single '}' encountered in format string (ValueError)"));
        }
        if c != '{' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            out.push('{');
            i += 2;
            continue;
        }
        let Some(end) = chars[i..].iter().position(|c| *c == '}') else {
            return Err(op("Single '{' encountered in format string (ValueError)"));
        };
        let field: String = chars[i + 1..i + end].iter().collect();
        i += end + 1;
        let (field, spec) = match field.find(':') {
            Some(p) => (field[..p].to_string(), field[p + 1..].to_string()),
            None => (field, String::new()),
        };
        let (field, conv) = match field.find('!') {
            Some(p) => (field[..p].to_string(), Some(field[p + 1..].to_string())),
            None => (field, None),
        };
        let name_end = field.find(['.', '[']).unwrap_or(field.len());
        let (name, chain) = field.split_at(name_end);
        let base = if name.is_empty() {
            let v = args.get(auto).cloned().ok_or_else(|| {
                op(format!(
                    "Replacement index {auto} out of range for positional args tuple (IndexError)"
                ))
            })?;
            auto += 1;
            v
        } else if let Ok(n) = name.parse::<usize>() {
            args.get(n).cloned().ok_or_else(|| {
                op(format!(
                    "Replacement index {n} out of range for positional args tuple (IndexError)"
                ))
            })?
        } else {
            kwargs.get::<Option<Value>>(name)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedError,
                    format!("format field '{name}' was not given (KeyError)"),
                )
            })?
        };
        let v = lookup(base, chain)?;
        let v = match conv.as_deref() {
            None => v,
            Some("r") | Some("a") => Value::from(py_repr(&v)),
            Some("s") => Value::from(py_str(&v)),
            Some(_) => return Err(op("Unknown conversion specifier (ValueError)")),
        };
        out.push_str(&format_value(&v, &spec)?);
    }
    Ok(out)
}

/// Python's `text % args` (printf-style), `args` being the tuple or, for
/// `%(name)s`, the mapping.
pub fn percent_format(
    text: &str,
    args: &[Value],
    mapping: Option<&Value>,
) -> Result<String, Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    let take = |next: &mut usize| -> Result<Value, Error> {
        let v = args
            .get(*next)
            .cloned()
            .ok_or_else(|| op("not enough arguments for format string (TypeError)"))?;
        *next += 1;
        Ok(v)
    };
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == ')')
                .ok_or_else(|| op("incomplete format key (ValueError)"))?;
            key = Some(chars[i + 1..i + end].iter().collect::<String>());
            i += end + 1;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.align = Some('<'),
                '+' => spec.sign = Some('+'),
                ' ' => {
                    if spec.sign.is_none() {
                        spec.sign = Some(' ')
                    }
                }
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = String::new();
        if chars.get(i) == Some(&'*') {
            width = take(&mut next)?
                .as_i64()
                .ok_or_else(|| op("* wants int (TypeError)"))?
                .to_string();
            i += 1;
        }
        while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            width.push(d);
            i += 1;
        }
        spec.width = width.parse().unwrap_or(0);
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = String::new();
            while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
                p.push(d);
                i += 1;
            }
            spec.precision = Some(p.parse().unwrap_or(0));
        }
        let Some(&conv) = chars.get(i) else {
            return Err(op("incomplete format (ValueError)"));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = match &key {
            Some(k) => mapping
                .ok_or_else(|| op("format requires a mapping (TypeError)"))?
                .get_item(&Value::from(k.as_str()))
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| op(format!("format key '{k}' was not given (KeyError)")))?,
            None => take(&mut next)?,
        };
        let zero_pad = spec.zero && spec.align.is_none();
        if zero_pad {
            spec.fill = Some('0');
            spec.align = Some('=');
        }
        let piece = match conv {
            's' | 'r' | 'a' => {
                let s = if conv == 's' { py_str(&v) } else { py_repr(&v) };
                let s: String = match spec.precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                };
                spec.fill = None;
                spec.align = Some(spec.align.filter(|a| *a == '<').unwrap_or('>'));
                pad(s, &spec, '>', "")
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'c' => {
                let is_int_conv = "diuxXoc".contains(conv);
                let n = if is_int_conv {
                    match as_int(&v) {
                        Some(i) => Value::from(i),
                        None => match as_float(&v) {
                            Some(f) if conv != 'c' => Value::from(f.trunc() as i128),
                            _ => {
                                return Err(op(format!(
                                    "%{conv} format: a number is required, not {} (TypeError)",
                                    v.kind()
                                )))
                            }
                        },
                    }
                } else {
                    match as_float(&v) {
                        Some(f) => Value::from(f),
                        None => {
                            return Err(op(format!(
                                "must be real number, not {} (TypeError)",
                                v.kind()
                            )))
                        }
                    }
                };
                spec.ty = Some(match conv {
                    'i' | 'u' => 'd',
                    c => c,
                });
                if is_int_conv {
                    let prec = spec.precision.take();
                    let (neg, mut body) = number_body(&n, &spec)?.unwrap_or((false, String::new()));
                    if let Some(p) = prec {
                        while body.chars().count() < p {
                            body.insert(0, '0');
                        }
                    }
                    let sign = if neg {
                        "-"
                    } else {
                        spec.sign.map_or("", |s| if s == '+' { "+" } else { " " })
                    };
                    pad(body, &spec, '>', sign)
                } else {
                    let f = f64::try_from(n).unwrap_or(0.0);
                    let (neg, body) = float_body(f, &spec)?;
                    let sign = if neg {
                        "-"
                    } else {
                        spec.sign.map_or("", |s| if s == '+' { "+" } else { " " })
                    };
                    pad(body, &spec, '>', sign)
                }
            }
            other => {
                return Err(op(format!(
                    "unsupported format character '{other}' (ValueError)"
                )))
            }
        };
        out.push_str(&piece);
    }
    if mapping.is_none() && next < args.len() {
        return Err(op(
            "not all arguments converted during string formatting (TypeError)",
        ));
    }
    Ok(out)
}
