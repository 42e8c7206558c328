//! StackStorm's version filters (`st2common/expressions/functions/version.py`),
//! with python-semver's parsing and ordering: strict `MAJOR.MINOR.PATCH`,
//! prerelease parts compared numerically or textually and, when all shared
//! parts are equal, by the prerelease text's length (python-semver's
//! `_nat_cmp`); build metadata ignored.

use std::cmp::Ordering;

/// A parsed semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: Option<String>,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn ident_ok(s: &str, allow_leading_zero: bool) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (allow_leading_zero
            || !s.bytes().all(|b| b.is_ascii_digit())
            || s == "0"
            || !s.starts_with('0'))
}

impl SemVer {
    /// Parses as `semver.Version.parse`; `None` when the text is not SemVer.
    pub fn parse(text: &str) -> Option<SemVer> {
        // Python's `$` also accepts one final newline.
        let text = text.strip_suffix('\n').unwrap_or(text);
        let (rest, build) = match text.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        if let Some(b) = build {
            if !b.split('.').all(|p| ident_ok(p, true)) {
                return None;
            }
        }
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        if let Some(p) = pre {
            if !p.split('.').all(|p| ident_ok(p, false)) {
                return None;
            }
        }
        let mut parts = core.split('.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        let patch = number(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        Some(SemVer {
            major,
            minor,
            patch,
            prerelease: pre.map(str::to_string),
        })
    }

    /// python-semver's `compare`: -1, 0 or 1.
    pub fn compare(&self, other: &SemVer) -> i64 {
        let core =
            (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        if core != Ordering::Equal {
            return ord(core);
        }
        let a = self.prerelease.as_deref().unwrap_or("");
        let b = other.prerelease.as_deref().unwrap_or("");
        let nat = nat_cmp(a, b);
        if nat == 0 {
            return 0;
        }
        if a.is_empty() {
            return 1;
        }
        if b.is_empty() {
            return -1;
        }
        nat
    }

    /// `MAJOR.MINOR`.
    pub fn strip_patch(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// The next major version (`X+1.0.0`).
    pub fn bump_major(&self) -> String {
        format!("{}.0.0", self.major + 1)
    }

    /// The next minor version (`X.Y+1.0`).
    pub fn bump_minor(&self) -> String {
        format!("{}.{}.0", self.major, self.minor + 1)
    }

    /// The next patch version (`X.Y.Z+1`).
    pub fn bump_patch(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch + 1)
    }
}

fn ord(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

fn nat_cmp(a: &str, b: &str) -> i64 {
    for (x, y) in a.split('.').zip(b.split('.')) {
        let xn = (!x.is_empty() && x.bytes().all(|c| c.is_ascii_digit()))
            .then(|| x.parse::<u128>().ok())
            .flatten();
        let yn = (!y.is_empty() && y.bytes().all(|c| c.is_ascii_digit()))
            .then(|| y.parse::<u128>().ok())
            .flatten();
        let c = match (xn, yn) {
            (Some(x), Some(y)) => ord(x.cmp(&y)),
            (Some(_), None) => -1,
            (None, Some(_)) => 1,
            (None, None) => ord(x.cmp(y)),
        };
        if c != 0 {
            return c;
        }
    }
    ord(a.chars().count().cmp(&b.chars().count()))
}

/// The operators of `Version.match`, as python-semver reads them.
pub fn match_expr(version: &SemVer, expr: &str) -> Result<bool, String> {
    let two: String = expr.chars().take(2).collect();
    let (op, rest) = if [">=", "<=", "==", "!="].contains(&two.as_str()) {
        (two.clone(), &expr[2..])
    } else if two.starts_with('>') || two.starts_with('<') {
        (two[..1].to_string(), &expr[1..])
    } else if expr.starts_with(|c: char| c.is_ascii_digit()) {
        // semver 3: a bare version means `==`.
        ("==".to_string(), expr)
    } else {
        return Err(
            "match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']"
                .to_string(),
        );
    };
    let other = SemVer::parse(rest).ok_or_else(|| {
        "the version in the match expression is not a valid SemVer string".to_string()
    })?;
    let c = version.compare(&other);
    Ok(match op.as_str() {
        ">" => c == 1,
        "<" => c == -1,
        "==" => c == 0,
        "!=" => c != 0,
        ">=" => c >= 0,
        _ => c <= 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_follows_python_semver() {
        let v = |s| SemVer::parse(s).unwrap();
        assert_eq!(v("0.9.0").compare(&v("0.10.0")), -1);
        assert_eq!(v("1.0.0-rc.1").compare(&v("1.0.0")), -1);
        assert_eq!(v("1.0.0-alpha.1").compare(&v("1.0.0-alpha")), 1);
        assert_eq!(v("1.0.0+b1").compare(&v("1.0.0+b2")), 0);
        assert!(SemVer::parse("1.2").is_none());
        assert!(SemVer::parse("01.2.3").is_none());
    }
}
