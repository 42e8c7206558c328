//! The YAQL lexer, rule for rule as yaql's (`yaql/language/lexer.py`, a PLY
//! lexer): numbers `\b\d+(\.?\d+)?\b`, `$name`, `name(` (a call), bare
//! names, `'..'`/`".."` strings with Python escapes, `` `..` `` verbatim
//! strings, and the operator table of `YaqlFactory`. Positions are character
//! offsets, as in yaql's messages.

use std::rc::Rc;

use super::error::{Error, R};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// A name directly followed by `(`.
    Func(Rc<str>),
    /// A bare name (yaql's KEYWORD_STRING).
    Keyword(Rc<str>),
    True,
    False,
    Null,
    /// `$`, `$name`, `$1` as written.
    Dollar(Rc<str>),
    /// An operator: `. ?. + - * / mod =~ !~ > < >= <= != = in not and or ->`
    /// or `=>` (named argument).
    Op(&'static str),
    /// `[` (an index or a list).
    LBracket,
    /// `{` (a dict).
    LBrace,
    LParen,
    RParen,
    RBracket,
    RBrace,
    Comma,
}

impl Tok {
    /// The token's value as yaql shows it in a grammar error.
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => super::format::float_repr(*f),
            Tok::Str(s) | Tok::Func(s) | Tok::Keyword(s) | Tok::Dollar(s) => s.to_string(),
            Tok::True => "True".into(),
            Tok::False => "False".into(),
            Tok::Null => "None".into(),
            Tok::Op(o) => (*o).into(),
            Tok::LBracket => "[".into(),
            Tok::LBrace => "{".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::RBracket => "]".into(),
            Tok::RBrace => "}".into(),
            Tok::Comma => ",".into(),
        }
    }
}

/// Tokens with their character positions; lexing stops at the first
/// illegal character, which is reported only when the parser reaches it
/// (PLY lexes on demand, so a grammar error before it wins).
pub struct Lexed {
    pub tokens: Vec<(Tok, usize)>,
    pub error: Option<Error>,
}

const OPERATORS: [&str; 16] = [
    "?.", "->", "=~", "!~", ">=", "<=", "!=", "=>", ".", "+", "-", "*", "/", ">", "<", "=",
];

const WORD_OPERATORS: [&str; 5] = ["mod", "in", "not", "and", "or"];

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_word_start(c: char) -> bool {
    is_word(c) && !c.is_ascii_digit() && !c.is_numeric()
}

/// Tokenizes `src` up to its end or its first illegal character.
pub fn lex(src: &str) -> Lexed {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        match next_token(&chars, i) {
            Ok(Some((tok, end))) => {
                tokens.push((tok, i));
                i = end;
            }
            Ok(None) => {
                return Lexed {
                    tokens,
                    error: Some(Error::new(
                        "YaqlLexicalException",
                        format!("Lexical error: illegal character '{c}' at position {i}"),
                    )),
                }
            }
            Err(e) => {
                return Lexed {
                    tokens,
                    error: Some(e),
                }
            }
        }
    }
    Lexed {
        tokens,
        error: None,
    }
}

fn next_token(chars: &[char], i: usize) -> R<Option<(Tok, usize)>> {
    let c = chars[i];
    if c == '$' {
        let mut j = i + 1;
        while j < chars.len() && is_word(chars[j]) {
            j += 1;
        }
        return Ok(Some((Tok::Dollar(collect(chars, i, j)), j)));
    }
    if c.is_ascii_digit() {
        if let Some((end, is_float)) = number(chars, i) {
            let text: String = chars[i..end].iter().collect();
            let tok = if is_float {
                Tok::Float(text.parse().map_err(|_| bad_number(&text))?)
            } else {
                Tok::Int(text.parse().map_err(|_| {
                    Error::new(
                        "OverflowError",
                        format!("integer literal {text} does not fit in 64 bits"),
                    )
                })?)
            };
            return Ok(Some((tok, end)));
        }
    }
    if is_word_start(c) {
        let mut j = i + 1;
        while j < chars.len() && is_word(chars[j]) {
            j += 1;
        }
        let name = collect(chars, i, j);
        if chars.get(j) == Some(&'(') {
            return Ok(Some((Tok::Func(name), j + 1)));
        }
        if name.starts_with("__") {
            return Ok(None);
        }
        let tok = match &*name {
            "true" => Tok::True,
            "false" => Tok::False,
            "null" => Tok::Null,
            op => match WORD_OPERATORS.iter().find(|w| **w == op) {
                Some(w) => Tok::Op(w),
                None => Tok::Keyword(name),
            },
        };
        return Ok(Some((tok, j)));
    }
    if c == '\'' || c == '"' || c == '`' {
        return quoted(chars, i);
    }
    for op in OPERATORS {
        let mut it = op.chars();
        let first = it.next();
        let second = it.next();
        if first == Some(c) && (second.is_none() || chars.get(i + 1).copied() == second) {
            return Ok(Some((Tok::Op(op), i + op.chars().count())));
        }
    }
    let tok = match c {
        '[' => Tok::LBracket,
        '{' => Tok::LBrace,
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        ']' => Tok::RBracket,
        '}' => Tok::RBrace,
        ',' => Tok::Comma,
        _ => return Ok(None),
    };
    Ok(Some((tok, i + 1)))
}

fn collect(chars: &[char], from: usize, to: usize) -> Rc<str> {
    Rc::from(chars[from..to].iter().collect::<String>())
}

fn bad_number(text: &str) -> Error {
    Error::new(
        "ValueError",
        format!("could not convert string to float: '{text}'"),
    )
}

/// `\b\d+(\.?\d+)?\b` with the regex engine's backtracking order: the end
/// of the longest match the regex would find, and whether it has a dot.
fn number(chars: &[char], i: usize) -> Option<(usize, bool)> {
    let digits_from = |p: usize| {
        let mut e = p;
        while e < chars.len() && chars[e].is_ascii_digit() {
            e += 1;
        }
        e
    };
    let boundary = |e: usize| e >= chars.len() || !is_word(chars[e]);
    let run_end = digits_from(i);
    for k in (1..=run_end - i).rev() {
        let p = i + k;
        if chars.get(p) == Some(&'.') {
            let frac_end = digits_from(p + 1);
            for e in (p + 2..=frac_end).rev() {
                if boundary(e) {
                    return Some((e, true));
                }
            }
        }
        for e in (p + 1..=run_end).rev() {
            if boundary(e) {
                return Some((e, false));
            }
        }
        if boundary(p) {
            return Some((p, false));
        }
    }
    None
}

/// A quoted string starting at `i`: `'..'`, `".."` (with escapes) or
/// `` `..` `` (verbatim but for `` \` ``).
fn quoted(chars: &[char], i: usize) -> R<Option<(Tok, usize)>> {
    let quote = chars[i];
    let mut j = i + 1;
    loop {
        match chars.get(j) {
            None => return Ok(None),
            Some(&c) if c == quote => break,
            Some('\\') => match chars.get(j + 1) {
                Some(&n) if n != '\n' => j += 2,
                _ => return Ok(None),
            },
            Some(_) => j += 1,
        }
    }
    let raw: String = chars[i + 1..j].iter().collect();
    let value = if quote == '`' {
        raw.replace("\\`", "`")
    } else {
        decode_escapes(&raw)?
    };
    Ok(Some((Tok::Str(Rc::from(value)), j + 1)))
}

/// Python escapes as yaql decodes them (`\n`, `\t`, `\\`, `\'`, `\"`, `\a`,
/// `\b`, `\f`, `\r`, `\v`, octal, `\xHH`, `\uHHHH`, `\UHHHHHHHH`); any other
/// backslash stays as written (so `'\d'` is a backslash and a `d`).
pub fn decode_escapes(s: &str) -> R<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\\' || i + 1 >= chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        let hex_len = match next {
            'U' => 8,
            'u' => 4,
            'x' => 2,
            _ => 0,
        };
        if hex_len > 0 {
            let end = i + 2 + hex_len;
            if end <= chars.len() && chars[i + 2..end].iter().all(|c| *c != '\n') {
                let hex: String = chars[i + 2..end].iter().collect();
                let decoded = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        Error::new(
                            "UnicodeDecodeError",
                            format!("'unicodeescape' codec can't decode escape \\{next}{hex}"),
                        )
                    })?;
                out.push(decoded);
                i = end;
                continue;
            }
        }
        if ('0'..='7').contains(&next) {
            let mut end = i + 1;
            while end < chars.len() && end < i + 4 && ('0'..='7').contains(&chars[end]) {
                end += 1;
            }
            let oct: String = chars[i + 1..end].iter().collect();
            let code = u32::from_str_radix(&oct, 8).unwrap_or(0);
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            i = end;
            continue;
        }
        let simple = match next {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        match simple {
            Some(c) => {
                out.push(c);
                i += 2;
            }
            None => {
                out.push('\\');
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let l = lex(s);
        assert!(l.error.is_none(), "{s}: {:?}", l.error);
        l.tokens.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn numbers_follow_the_regex_backtracking() {
        assert_eq!(toks("1.5"), vec![Tok::Float(1.5)]);
        assert_eq!(
            toks("1.e3"),
            vec![Tok::Int(1), Tok::Op("."), Tok::Keyword("e3".into())]
        );
        assert!(lex("2.5e3").error.is_some());
        assert!(lex("12abc").error.is_some());
    }

    #[test]
    fn names_calls_and_word_operators() {
        assert_eq!(
            toks("not(x) not y"),
            vec![
                Tok::Func("not".into()),
                Tok::Keyword("x".into()),
                Tok::RParen,
                Tok::Op("not"),
                Tok::Keyword("y".into())
            ]
        );
        assert!(lex("__x").error.is_some());
        assert_eq!(toks("$__x"), vec![Tok::Dollar("$__x".into())]);
    }

    #[test]
    fn escapes_decode_as_python() {
        assert_eq!(toks(r"'a\nb'"), vec![Tok::Str("a\nb".into())]);
        assert_eq!(toks(r"'\d'"), vec![Tok::Str("\\d".into())]);
        assert_eq!(toks(r"'\x41\u00e9'"), vec![Tok::Str("Aé".into())]);
        assert_eq!(toks(r"`a\`b\n`"), vec![Tok::Str("a`b\\n".into())]);
    }
}
