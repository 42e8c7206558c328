//! PyYAML's implicit resolver (YAML 1.1, `yaml/resolver.py`): which type a
//! plain scalar has. The loader uses it to type plain scalars; the dumper
//! uses it to decide whether a string must be quoted (`'yes'`, `'1.0'`).

use std::sync::OnceLock;

use fancy_regex::Regex;

/// The type PyYAML resolves a plain scalar to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implicit {
    /// `tag:yaml.org,2002:bool`
    Bool,
    /// `tag:yaml.org,2002:float`
    Float,
    /// `tag:yaml.org,2002:int`
    Int,
    /// `tag:yaml.org,2002:merge` (`<<`)
    Merge,
    /// `tag:yaml.org,2002:null`
    Null,
    /// `tag:yaml.org,2002:timestamp`
    Timestamp,
    /// `tag:yaml.org,2002:value` (`=`)
    Value,
    /// `tag:yaml.org,2002:str`
    Str,
}

struct Resolver {
    kind: Implicit,
    first: &'static str,
    re: Regex,
}

fn resolvers() -> &'static [Resolver] {
    static R: OnceLock<Vec<Resolver>> = OnceLock::new();
    R.get_or_init(|| {
        let mk = |kind, first, re: &str| Resolver {
            kind,
            first,
            re: Regex::new(re).expect("resolver patterns are valid"),
        };
        vec![
            mk(
                Implicit::Bool,
                "yYnNtTfFoO",
                r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            ),
            mk(
                Implicit::Float,
                "-+0123456789.",
                r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            ),
            mk(
                Implicit::Int,
                "-+0123456789",
                r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
            ),
            mk(Implicit::Merge, "<", r"^(?:<<)$"),
            mk(Implicit::Null, "~nN", r"^(?:~|null|Null|NULL|)$"),
            mk(
                Implicit::Timestamp,
                "0123456789",
                r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            ),
            mk(Implicit::Value, "=", r"^(?:=)$"),
        ]
    })
}

/// Resolves a plain scalar as PyYAML's `Resolver.resolve` does.
pub fn resolve_plain(value: &str) -> Implicit {
    if value.is_empty() {
        return Implicit::Null;
    }
    // Python's `$` also matches before one final newline.
    let probe = value.strip_suffix('\n').unwrap_or(value);
    let first = value.chars().next().expect("value is not empty");
    for r in resolvers() {
        if r.first.contains(first) && r.re.is_match(probe).unwrap_or(false) {
            return r.kind;
        }
    }
    Implicit::Str
}

/// `int(...)` of a YAML 1.1 integer (`0b`, `0x`, leading-0 octal, `1:30`
/// sexagesimal, `_` separators), as PyYAML's `construct_yaml_int`.
pub fn construct_int(value: &str) -> Option<i128> {
    let mut v: String = value.chars().filter(|c| *c != '_').collect();
    let mut sign = 1i128;
    if v.starts_with('-') {
        sign = -1;
        v.remove(0);
    } else if v.starts_with('+') {
        v.remove(0);
    }
    if v == "0" {
        return Some(0);
    }
    if let Some(b) = v.strip_prefix("0b") {
        return i128::from_str_radix(b, 2).ok().map(|n| sign * n);
    }
    if let Some(x) = v.strip_prefix("0x") {
        return i128::from_str_radix(x, 16).ok().map(|n| sign * n);
    }
    if v.starts_with('0') {
        return i128::from_str_radix(&v, 8).ok().map(|n| sign * n);
    }
    if v.contains(':') {
        let mut total = 0i128;
        for part in v.split(':') {
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        return Some(sign * total);
    }
    v.parse::<i128>().ok().map(|n| sign * n)
}

/// `float(...)` of a YAML 1.1 float, as PyYAML's `construct_yaml_float`.
pub fn construct_float(value: &str) -> Option<f64> {
    let mut v: String = value
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let mut sign = 1.0;
    if v.starts_with('-') {
        sign = -1.0;
        v.remove(0);
    } else if v.starts_with('+') {
        v.remove(0);
    }
    if v == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if v == ".nan" {
        return Some(f64::NAN);
    }
    if v.contains(':') {
        let mut total = 0.0;
        for part in v.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * total);
    }
    v.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_11_types() {
        assert_eq!(resolve_plain("yes"), Implicit::Bool);
        assert_eq!(resolve_plain("1e5"), Implicit::Str);
        assert_eq!(resolve_plain("1.0e+5"), Implicit::Float);
        assert_eq!(resolve_plain("010"), Implicit::Int);
        assert_eq!(construct_int("010"), Some(8));
        assert_eq!(construct_int("1:30"), Some(90));
        assert_eq!(resolve_plain("2001-12-14"), Implicit::Timestamp);
        assert_eq!(resolve_plain("~"), Implicit::Null);
        assert_eq!(resolve_plain("hello"), Implicit::Str);
    }
}
