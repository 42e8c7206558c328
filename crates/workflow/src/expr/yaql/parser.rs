//! The YAQL grammar (`yaql/language/parser.py` with the operator table of
//! `yaql/language/factory.py`) as a precedence-climbing parser with a
//! nesting limit.
//!
//! Binding, tightest first: `.` `?.`; `[...]` (index); unary `+` `-`;
//! `=~` `!~`; `*` `/` `mod`; `+` `-`; `>` `<` `>=` `<=` `!=` `=` `in`;
//! `not`; `and`; `or`; `->` (right-associative). Every operator is a call
//! of a function named as yaql names it (`#operator_+`, `*equal`,
//! `#unary_operator_not`, `#indexer`, `#list`, `#map`), so evaluation
//! resolves them like any other function.

use std::rc::Rc;

use super::error::{Error, R};
use super::lexer::{lex, Tok};

/// Deepest nesting of brackets, calls and operators the parser accepts.
pub const MAX_NESTING: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal (yaql's `Constant`).
    Const(Lit),
    /// A bare name (yaql's `KeywordConstant`): a string, or a property or
    /// argument name depending on where it stands.
    Keyword(Rc<str>),
    /// `$`, `$name`, `$1`.
    Var(Rc<str>),
    /// `( ... )`.
    Wrap(Box<Expr>),
    /// A function call. `written` is true for a call written as `name(...)`
    /// (which can be a method after `.`), false for operators, indexers and
    /// list/dict literals.
    Call {
        name: Rc<str>,
        args: Vec<Arg>,
        written: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Pos(Expr),
    /// A skipped position: `f(, x)`, `f(x,, y)`.
    Hole,
    /// `name => value` (a named argument, or a dict entry).
    Named(Expr, Expr),
}

impl Expr {
    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: Rc::from(name),
            args: args.into_iter().map(Arg::Pos).collect(),
            written: false,
        }
    }

    /// The operator call `name(left, right)` if this is one.
    pub fn binary(&self, op: &str) -> Option<(&Expr, &Expr)> {
        match self {
            Expr::Call {
                name,
                args,
                written: false,
            } if &**name == op => match args.as_slice() {
                [Arg::Pos(a), Arg::Pos(b)] => Some((a, b)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Binding power of a binary operator (higher binds tighter) and whether it
/// is right-associative.
fn binary_power(op: &str) -> Option<(u8, bool)> {
    Some(match op {
        "." | "?." => (11, false),
        "=~" | "!~" => (8, false),
        "*" | "/" | "mod" => (7, false),
        "+" | "-" => (6, false),
        ">" | "<" | ">=" | "<=" | "!=" | "=" | "in" => (5, false),
        "and" => (3, false),
        "or" => (2, false),
        "->" => (1, true),
        _ => return None,
    })
}

const INDEX_POWER: u8 = 10;
const SIGN_POWER: u8 = 9;
const NOT_POWER: u8 = 4;

fn binary_name(op: &str) -> String {
    match op {
        "=" => "*equal".into(),
        "!=" => "*not_equal".into(),
        _ => format!("#operator_{op}"),
    }
}

/// Parse one YAQL expression.
pub fn parse(src: &str) -> R<Expr> {
    let lexed = lex(src);
    let mut p = Parser {
        src,
        tokens: lexed.tokens,
        lex_error: lexed.error,
        pos: 0,
        depth: 0,
        last: 0,
    };
    let expr = p.expr(1)?;
    match p.peek()? {
        None => Ok(expr),
        Some(_) => Err(p.unexpected()),
    }
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<(Tok, usize)>,
    lex_error: Option<Error>,
    pos: usize,
    /// Current recursion depth of the parser.
    depth: usize,
    /// Depth of the tree the last `expr` or `prefix` call built.
    last: usize,
}

impl Parser<'_> {
    /// The next token; reaching the lexer's stopping point raises its error.
    fn peek(&self) -> R<Option<&Tok>> {
        match self.tokens.get(self.pos) {
            Some((t, _)) => Ok(Some(t)),
            None => match &self.lex_error {
                Some(e) => Err(e.clone()),
                None => Ok(None),
            },
        }
    }

    fn bump(&mut self) -> R<Tok> {
        match self.peek()? {
            Some(t) => {
                let t = t.clone();
                self.pos += 1;
                Ok(t)
            }
            None => Err(self.unexpected()),
        }
    }

    fn unexpected(&self) -> Error {
        match self.tokens.get(self.pos) {
            Some((t, at)) => Error::new(
                "YaqlGrammarException",
                format!(
                    "Parse error: unexpected '{}' at position {at} of expression '{}'",
                    t.describe(),
                    self.src
                ),
            ),
            None => Error::new(
                "YaqlGrammarException",
                "Parse error: unexpected end of statement",
            ),
        }
    }

    fn expect(&mut self, tok: Tok) -> R<()> {
        if self.peek()? == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(too_deep());
        }
        Ok(())
    }

    /// Records the depth of a tree just built; trees deeper than
    /// [`MAX_NESTING`] are refused (so that evaluating and dropping them
    /// stays within the stack), including long operator chains.
    fn built(&mut self, depth: usize) -> R<()> {
        if depth > MAX_NESTING {
            return Err(too_deep());
        }
        self.last = depth;
        Ok(())
    }

    /// An expression whose operators bind at least as tight as `min`.
    fn expr(&mut self, min: u8) -> R<Expr> {
        self.enter()?;
        let result = super::interp::grow(|| self.expr_inner(min));
        self.depth -= 1;
        result
    }

    fn expr_inner(&mut self, min: u8) -> R<Expr> {
        let mut left = self.prefix()?;
        let mut depth = self.last;
        loop {
            let (op, power, right_assoc) = match self.peek()? {
                Some(Tok::LBracket) if INDEX_POWER >= min => {
                    self.pos += 1;
                    let (rest, d) = self.args(Tok::RBracket)?;
                    let mut args = vec![Arg::Pos(left)];
                    args.extend(rest);
                    depth = depth.max(d) + 1;
                    self.built(depth)?;
                    left = Expr::Call {
                        name: Rc::from("#indexer"),
                        args,
                        written: false,
                    };
                    continue;
                }
                Some(Tok::Op(op)) => match binary_power(op) {
                    Some((p, r)) if p >= min => (*op, p, r),
                    _ => break,
                },
                _ => break,
            };
            self.pos += 1;
            let right = self.expr(if right_assoc { power } else { power + 1 })?;
            depth = depth.max(self.last) + 1;
            self.built(depth)?;
            left = Expr::call(&binary_name(op), vec![left, right]);
        }
        self.last = depth;
        Ok(left)
    }

    fn prefix(&mut self) -> R<Expr> {
        let tok = self.bump()?;
        self.last = 0;
        let e = match tok {
            Tok::Int(i) => Expr::Const(Lit::Int(i)),
            Tok::Float(f) => Expr::Const(Lit::Float(f)),
            Tok::Str(s) => Expr::Const(Lit::Str(s)),
            Tok::True => Expr::Const(Lit::Bool(true)),
            Tok::False => Expr::Const(Lit::Bool(false)),
            Tok::Null => Expr::Const(Lit::Null),
            Tok::Keyword(k) => Expr::Keyword(k),
            Tok::Dollar(d) => Expr::Var(d),
            Tok::LParen => {
                let inner = self.expr(1)?;
                self.expect(Tok::RParen)?;
                Expr::Wrap(Box::new(inner))
            }
            Tok::Func(name) => {
                let (args, d) = self.args(Tok::RParen)?;
                self.last = d;
                Expr::Call {
                    name,
                    args,
                    written: true,
                }
            }
            Tok::LBracket => {
                let (args, d) = self.args(Tok::RBracket)?;
                self.last = d;
                Expr::Call {
                    name: Rc::from("#list"),
                    args,
                    written: false,
                }
            }
            Tok::LBrace => {
                let (args, d) = self.args(Tok::RBrace)?;
                self.last = d;
                Expr::Call {
                    name: Rc::from("#map"),
                    args,
                    written: false,
                }
            }
            Tok::Op(op @ ("+" | "-" | "not")) => {
                let power = if op == "not" { NOT_POWER } else { SIGN_POWER };
                let operand = self.expr(power)?;
                Expr::call(&format!("#unary_operator_{op}"), vec![operand])
            }
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        let depth = self.last + 1;
        self.built(depth)?;
        Ok(e)
    }

    /// Arguments up to and including `close`, with yaql's rules: skipped
    /// positions, named arguments after positional ones, no trailing comma.
    fn args(&mut self, close: Tok) -> R<(Vec<Arg>, usize)> {
        let mut args: Vec<Arg> = Vec::new();
        let mut deepest = 0;
        if self.peek()? == Some(&close) {
            self.pos += 1;
            return Ok((args, 0));
        }
        let mut named = false;
        loop {
            if self.peek()? == Some(&Tok::Comma) {
                // A skipped position must be followed by an argument.
                if named {
                    return Err(self.unexpected());
                }
                self.pos += 1;
                args.push(Arg::Hole);
                continue;
            }
            let value = self.expr(1)?;
            deepest = deepest.max(self.last);
            if self.peek()? == Some(&Tok::Op("=>")) {
                let named_allowed = matches!(
                    args.as_slice(),
                    [] | [.., Arg::Named(..)] | [.., Arg::Pos(_)] | [.., Arg::Pos(_), Arg::Hole]
                );
                if !named_allowed {
                    return Err(self.unexpected());
                }
                self.pos += 1;
                let dest = self.expr(1)?;
                deepest = deepest.max(self.last);
                args.push(Arg::Named(value, dest));
                named = true;
            } else {
                if named {
                    return Err(self.unexpected());
                }
                args.push(Arg::Pos(value));
            }
            let tok = self.bump()?;
            if tok == close {
                return Ok((args, deepest));
            }
            if tok != Tok::Comma {
                self.pos -= 1;
                return Err(self.unexpected());
            }
            if self.peek()? == Some(&close) {
                return Err(self.unexpected());
            }
            if self.peek()? == Some(&Tok::Comma) {
                if named {
                    return Err(self.unexpected());
                }
                // `x,, y`: one skipped position after an argument.
                self.pos += 1;
                args.push(Arg::Hole);
                if self.peek()? == Some(&close) {
                    return Err(self.unexpected());
                }
            }
        }
    }
}

fn too_deep() -> Error {
    Error::new(
        "YaqlGrammarException",
        format!(
            "expression nested deeper than {MAX_NESTING} levels; split it into smaller expressions"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_matches_yaql() {
        let e = parse("a or b and c").unwrap();
        assert!(e.binary("#operator_or").is_some());
        let e = parse("-$.x").unwrap();
        assert!(matches!(e, Expr::Call { ref name, .. } if &**name == "#unary_operator_-"));
        let e = parse("not a = b").unwrap();
        assert!(matches!(e, Expr::Call { ref name, .. } if &**name == "#unary_operator_not"));
        let e = parse("a -> b -> c").unwrap();
        let (_, right) = e.binary("#operator_->").unwrap();
        assert!(right.binary("#operator_->").is_some());
    }

    #[test]
    fn argument_shapes() {
        assert!(parse("f(, 1)").is_ok());
        assert!(parse("f(1,, 2)").is_ok());
        assert!(parse("f(1,, a => 2)").is_ok());
        assert!(parse("f(a => 1, 2)").is_err());
        assert!(parse("f(1,)").is_err());
        assert!(parse("f(,)").is_err());
        assert!(parse("f(, a => 1)").is_err());
    }

    #[test]
    fn errors_have_yaql_classes() {
        assert_eq!(parse("1 +").unwrap_err().class, "YaqlGrammarException");
        assert_eq!(parse("1 + #").unwrap_err().class, "YaqlLexicalException");
        assert_eq!(parse(") #").unwrap_err().class, "YaqlGrammarException");
        assert_eq!(parse("").unwrap_err().class, "YaqlGrammarException");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{}", e.message);
        let deep = format!("{}1", "-".repeat(5000));
        assert!(parse(&deep).is_err());
        // A long chain is a deep tree too.
        let chain = vec!["1"; 5000].join(" + ");
        assert!(parse(&chain).unwrap_err().message.contains("nested deeper"));
        let ok = vec!["1"; 100].join(" + ");
        assert!(parse(&ok).is_ok());
    }
}
