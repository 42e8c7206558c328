//! Python `re` semantics on top of `fancy-regex`: pattern translation,
//! `re.match`, `re.search`, `re.sub` (with Python's replacement template)
//! and `re.findall`, as StackStorm's regex filters call them
//! (`st2common/expressions/functions/regex.py`).
//!
//! Translation covers what differs between the two syntaxes: Python's `$`
//! also matches before a final newline, `\Z` is Rust's `\z`, `(?P=name)`
//! is `\k<name>`, a `{` that does not start a repetition and a `[` inside a
//! class are literals, `\uXXXX`/octal escapes, and Python's "bad escape"
//! errors. Iteration follows Python 3.7+: an empty match right after a
//! non-empty one counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use fancy_regex::{Captures, Regex, RegexBuilder};

/// Compiled patterns kept, as Python's `re` module keeps its cache (it
/// holds 512); compiling a Unicode pattern costs far more than matching.
const CACHE_SIZE: usize = 512;

type Cache = Mutex<HashMap<(String, bool), Arc<PyRegex>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A compiled Python pattern.
pub struct PyRegex {
    re: Regex,
    groups: usize,
    names: Vec<(String, usize)>,
}

/// A pattern or replacement template that Python's `re` refuses.
#[derive(Debug)]
pub struct ReError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ReError> {
    Err(ReError(msg.into()))
}

/// Python's valid escapes outside a class that stay as they are in Rust.
const KEEP_ESCAPES: &str = "AbBdDsSwWfnrtv";

fn parse_hex(chars: &[char], at: usize, n: usize) -> Option<u32> {
    let s: String = chars.get(at..at + n)?.iter().collect();
    if s.chars().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(&s, 16).ok()
    } else {
        None
    }
}

fn push_char_escape(out: &mut String, n: u32) {
    out.push_str(&format!("\\x{{{n:x}}}"));
}

/// Length of a valid `{m,n}` repetition starting at `i` (which is `{`),
/// and its Rust spelling.
fn repetition(chars: &[char], i: usize) -> Option<(usize, String)> {
    let mut j = i + 1;
    let mut lo = String::new();
    while j < chars.len() && chars[j].is_ascii_digit() {
        lo.push(chars[j]);
        j += 1;
    }
    let mut hi: Option<String> = None;
    if j < chars.len() && chars[j] == ',' {
        j += 1;
        let mut h = String::new();
        while j < chars.len() && chars[j].is_ascii_digit() {
            h.push(chars[j]);
            j += 1;
        }
        hi = Some(h);
    }
    if j >= chars.len() || chars[j] != '}' {
        return None;
    }
    if lo.is_empty() && hi.as_deref().is_none_or(str::is_empty) {
        // `{}` and `{,}` are literals in Python.
        return None;
    }
    let lo = if lo.is_empty() { "0".to_string() } else { lo };
    let rust = match hi {
        None => format!("{{{lo}}}"),
        Some(h) if h.is_empty() => format!("{{{lo},}}"),
        Some(h) => format!("{{{lo},{h}}}"),
    };
    Some((j + 1 - i, rust))
}

/// Translates a Python pattern to fancy-regex syntax.
fn translate(pattern: &str) -> Result<String, ReError> {
    let chars: Vec<char> = pattern.chars().collect();
    let multiline = has_inline_flag(pattern, 'm');
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return err("bad escape (end of pattern)");
            };
            i += 2;
            match n {
                'x' => match parse_hex(&chars, i, 2) {
                    Some(v) => {
                        push_char_escape(&mut out, v);
                        i += 2;
                    }
                    None => return err(format!("incomplete escape \\x at position {}", i - 2)),
                },
                'u' | 'U' => {
                    let len = if n == 'u' { 4 } else { 8 };
                    match parse_hex(&chars, i, len) {
                        Some(v) if char::from_u32(v).is_some() => {
                            push_char_escape(&mut out, v);
                            i += len;
                        }
                        _ => return err(format!("incomplete escape \\{n} at position {}", i - 2)),
                    }
                }
                '0' => {
                    // Octal: \0, \0o, \0oo.
                    let mut v = 0u32;
                    let mut k = 0;
                    while k < 2 && i < chars.len() && ('0'..='7').contains(&chars[i]) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        k += 1;
                    }
                    push_char_escape(&mut out, v);
                }
                '1'..='9' if !in_class => {
                    let mut num = n.to_string();
                    if let Some(&d) = chars.get(i) {
                        if d.is_ascii_digit() {
                            num.push(d);
                            i += 1;
                        }
                    }
                    out.push('\\');
                    out.push_str(&num);
                }
                'Z' if !in_class => out.push_str("\\z"),
                'b' if in_class => out.push_str("\\x{8}"),
                'a' => out.push_str("\\x{7}"),
                c if c.is_ascii_alphanumeric() => {
                    let valid = if in_class {
                        "dDsSwWfnrtv".contains(c)
                    } else {
                        KEEP_ESCAPES.contains(c)
                    };
                    if !valid {
                        return err(format!("bad escape \\{c} at position {}", i - 2));
                    }
                    out.push('\\');
                    out.push(c);
                }
                c => {
                    out.push('\\');
                    out.push(c);
                }
            }
            class_start = false;
            continue;
        }
        if in_class {
            match c {
                ']' if !class_start => {
                    in_class = false;
                    out.push(']');
                }
                ']' => out.push_str("\\]"),
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '^' if class_start => {
                    out.push('^');
                    i += 1;
                    continue;
                }
                c => out.push(c),
            }
            class_start = false;
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_start = true;
                out.push('[');
            }
            '$' if !multiline => out.push_str("(?:(?=\\n\\z)|\\z)"),
            '{' => match repetition(&chars, i) {
                Some((len, rust)) => {
                    out.push_str(&rust);
                    i += len;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i..].iter().take(4).collect();
                if rest.starts_with("(?P=") {
                    let end = chars[i..].iter().position(|c| *c == ')');
                    let Some(end) = end else {
                        return err("missing ), unterminated name");
                    };
                    let name: String = chars[i + 4..i + end].iter().collect();
                    out.push_str(&format!("\\k<{name}>"));
                    i += end + 1;
                    continue;
                }
                if rest.starts_with("(?#") {
                    let end = chars[i..].iter().position(|c| *c == ')');
                    let Some(end) = end else {
                        return err("missing ), unterminated comment");
                    };
                    i += end + 1;
                    continue;
                }
                // Inline flags: drop the ones Rust has no use for.
                let mut j = i + 2;
                let mut flags = String::new();
                while j < chars.len() && "aiLmsux-".contains(chars[j]) {
                    flags.push(chars[j]);
                    j += 1;
                }
                if !flags.is_empty() && j < chars.len() && (chars[j] == ')' || chars[j] == ':') {
                    let kept: String = flags.chars().filter(|f| !"aLu".contains(*f)).collect();
                    if kept.is_empty() || kept == "-" {
                        if chars[j] == ':' {
                            out.push_str("(?:");
                        }
                    } else {
                        out.push_str("(?");
                        out.push_str(&kept);
                        out.push(chars[j]);
                    }
                    i = j + 1;
                    continue;
                }
                out.push('(');
            }
            c => out.push(c),
        }
        i += 1;
    }
    if in_class {
        return err("unterminated character set");
    }
    Ok(out)
}

fn has_inline_flag(pattern: &str, flag: char) -> bool {
    let mut rest = pattern;
    while let Some(p) = rest.find("(?") {
        let after = &rest[p + 2..];
        let flags: String = after
            .chars()
            .take_while(|c| "aiLmsux".contains(*c))
            .collect();
        if flags.contains(flag) {
            return true;
        }
        rest = after;
    }
    false
}

impl PyRegex {
    /// A compiled pattern from the cache, compiled on first use.
    pub fn cached(pattern: &str, ignorecase: bool) -> Result<Arc<PyRegex>, ReError> {
        let key = (pattern.to_string(), ignorecase);
        if let Some(re) = cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(re.clone());
        }
        let re = Arc::new(PyRegex::new(pattern, ignorecase)?);
        let mut c = cache().lock().unwrap_or_else(PoisonError::into_inner);
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(key, re.clone());
        Ok(re)
    }

    /// Compiles a Python pattern; `ignorecase` is `re.I`.
    pub fn new(pattern: &str, ignorecase: bool) -> Result<Self, ReError> {
        let translated = translate(pattern)?;
        let re = RegexBuilder::new(&translated)
            .case_insensitive(ignorecase)
            .build()
            .map_err(|e| ReError(e.to_string()))?;
        let groups = re.captures_len().saturating_sub(1);
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect();
        Ok(PyRegex { re, groups, names })
    }

    fn captures_at<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Result<Option<Captures<'t, str>>, ReError> {
        self.re
            .captures_from_pos(text, pos)
            .map_err(|e| ReError(e.to_string()))
    }

    /// All matches in Python 3.7+ order (see module docs).
    fn all<'t>(&self, text: &'t str) -> Result<Vec<Captures<'t, str>>, ReError> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut must_advance = false;
        while pos <= text.len() {
            let Some(caps) = self.captures_at(text, pos)? else {
                break;
            };
            let m = caps.get(0).expect("group 0 always matches");
            if must_advance && m.start() == pos && m.end() == pos {
                // An empty match where the last empty one was: move on.
                let Some(c) = text[pos..].chars().next() else {
                    break;
                };
                pos += c.len_utf8();
                must_advance = false;
                continue;
            }
            let (start, end) = (m.start(), m.end());
            out.push(caps);
            must_advance = start == end;
            pos = end;
        }
        Ok(out)
    }

    /// `re.search(...)` is not None.
    pub fn search(&self, text: &str) -> Result<bool, ReError> {
        Ok(self.captures_at(text, 0)?.is_some())
    }

    /// `re.match(...)` is not None: a match starting at position 0.
    pub fn is_match_at_start(pattern: &str, ignorecase: bool, text: &str) -> Result<bool, ReError> {
        // Anchor by wrapping; validate the pattern alone first so errors
        // read as Python's.
        translate(pattern)?;
        let anchored = PyRegex::cached(&format!("\\A(?:{pattern})"), ignorecase)?;
        anchored.search(text)
    }

    /// `re.findall(...)`: whole matches without groups, the group's text
    /// with one group, a tuple of groups (as a `Vec`) with more.
    pub fn findall(&self, text: &str) -> Result<Vec<Found>, ReError> {
        let group = |caps: &Captures<'_, str>, i: usize| {
            caps.get(i)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default()
        };
        Ok(self
            .all(text)?
            .iter()
            .map(|caps| match self.groups {
                0 => Found::Text(group(caps, 0)),
                1 => Found::Text(group(caps, 1)),
                n => Found::Groups((1..=n).map(|i| group(caps, i)).collect()),
            })
            .collect())
    }

    /// `re.sub(pattern, repl, text)` with Python's replacement template.
    pub fn sub(&self, repl: &str, text: &str) -> Result<String, ReError> {
        let template = self.parse_template(repl)?;
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for caps in self.all(text)? {
            let m = caps.get(0).expect("group 0 always matches");
            out.push_str(&text[last..m.start()]);
            for piece in &template {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Group(g) => {
                        if let Some(g) = caps.get(*g) {
                            out.push_str(g.as_str());
                        }
                    }
                }
            }
            last = m.end();
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    fn group_index(&self, name: &str) -> Result<usize, ReError> {
        if let Ok(n) = name.parse::<usize>() {
            if n > self.groups {
                return err(format!("invalid group reference {n}"));
            }
            return Ok(n);
        }
        self.names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
            .ok_or_else(|| ReError(format!("unknown group name '{name}'")))
    }

    /// Parses Python's replacement template (`\1`, `\g<name>`, `\n`, ...).
    fn parse_template(&self, repl: &str) -> Result<Vec<Piece>, ReError> {
        let chars: Vec<char> = repl.chars().collect();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' {
                text.push(c);
                i += 1;
                continue;
            }
            let Some(&n) = chars.get(i + 1) else {
                return err("bad escape (end of pattern)");
            };
            i += 2;
            let mut group = None;
            match n {
                'g' => {
                    if chars.get(i) != Some(&'<') {
                        return err("missing <");
                    }
                    let Some(end) = chars[i..].iter().position(|c| *c == '>') else {
                        return err("missing >, unterminated name");
                    };
                    let name: String = chars[i + 1..i + end].iter().collect();
                    if name.is_empty() {
                        return err("missing group name");
                    }
                    group = Some(self.group_index(&name)?);
                    i += end + 1;
                }
                '0' => {
                    let mut v = 0u32;
                    let mut k = 0;
                    while k < 2 && i < chars.len() && ('0'..='7').contains(&chars[i]) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        k += 1;
                    }
                    text.push(char::from_u32(v).unwrap_or('\0'));
                }
                '1'..='9' => {
                    let mut num = n.to_string();
                    // Three octal digits make a character, as in Python.
                    let octal = chars.get(i..i + 2).is_some_and(|d| {
                        ('0'..='7').contains(&n) && d.iter().all(|c| ('0'..='7').contains(c))
                    });
                    if octal {
                        let s: String = std::iter::once(n)
                            .chain(chars[i..i + 2].iter().copied())
                            .collect();
                        let v = u32::from_str_radix(&s, 8).unwrap_or(0);
                        if v > 0o377 {
                            return err(format!(
                                "octal escape value \\{s} outside of range 0-0o377"
                            ));
                        }
                        text.push(char::from_u32(v).unwrap_or('\0'));
                        i += 2;
                    } else {
                        if let Some(&d) = chars.get(i) {
                            if d.is_ascii_digit() {
                                num.push(d);
                                i += 1;
                            }
                        }
                        group = Some(self.group_index(&num)?);
                    }
                }
                'n' => text.push('\n'),
                't' => text.push('\t'),
                'r' => text.push('\r'),
                'f' => text.push('\x0c'),
                'v' => text.push('\x0b'),
                'a' => text.push('\x07'),
                'b' => text.push('\x08'),
                '\\' => text.push('\\'),
                c if c.is_ascii_alphabetic() => {
                    return err(format!("bad escape \\{c} at position {}", i - 2));
                }
                c => {
                    text.push('\\');
                    text.push(c);
                }
            }
            if let Some(g) = group {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(g));
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(pieces)
    }
}

enum Piece {
    Text(String),
    Group(usize),
}

/// One item of `re.findall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The match (or its only group).
    Text(String),
    /// The groups of a pattern with more than one group (a Python tuple).
    Groups(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_follows_python_empty_match_rules() {
        let re = PyRegex::new("x*", false).unwrap();
        assert_eq!(re.sub("-", "abxd").unwrap(), "-a-b--d-");
    }

    #[test]
    fn dollar_matches_before_final_newline() {
        let re = PyRegex::new("a$", false).unwrap();
        assert!(re.search("a\n").unwrap());
        assert!(!re.search("a\nb").unwrap());
    }

    #[test]
    fn python_template_and_groups() {
        let re = PyRegex::new(r"(?P<w>\w+)@(\w+)", false).unwrap();
        assert_eq!(re.sub(r"\2:\g<w>", "me@host").unwrap(), "host:me");
        assert!(re.sub(r"\3", "x").is_err());
        assert!(PyRegex::new(r"\q", false).is_err());
        let lit = PyRegex::new(r"a{x}[[]", false).unwrap();
        assert!(lit.search("a{x}[").unwrap());
    }
}
