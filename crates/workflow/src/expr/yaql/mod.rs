//! The YAQL subset used in Orquesta workflows: a lexer and a
//! recursive-descent parser producing [`Expr`], evaluated by [`eval`].
//!
//! Grammar, loosest binding first: `or`, `and`, `not`, comparisons
//! (`= != < <= > >= in`), `+ -`, `* / mod`, unary `-`, then postfix
//! `.attr`, `.method(args)` and `[index]` on primaries (literals, `$`,
//! calls, `[list]`, `{dict}`, parentheses). A bare identifier that is not
//! called is a string, as in YAQL (`ctx(name)` means `ctx('name')`).

pub mod eval;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// `$`: the whole context.
    Root,
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call {
        name: String,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Dollar,
    Punct(&'static str),
}

const PUNCTS: [&str; 19] = [
    "=>", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "+", "-", "*", "/", "=",
    "<",
];

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let mut is_float = false;
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                is_float = true;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().collect();
            tokens.push(if is_float {
                Token::Float(text.parse().map_err(|_| format!("bad number {text}"))?)
            } else {
                match text.parse::<i64>() {
                    Ok(n) => Token::Int(n),
                    Err(_) => Token::Float(text.parse().map_err(|_| format!("bad number {text}"))?),
                }
            });
            continue;
        }
        if c == '\'' || c == '"' {
            let quote = c;
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some(&ch) if ch == quote => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let esc = chars.get(i + 1).ok_or("unterminated string literal")?;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => *other,
                        });
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Str(s));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        if c == '$' {
            tokens.push(Token::Dollar);
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match PUNCTS
            .iter()
            .chain([">"].iter())
            .find(|p| rest.starts_with(**p))
        {
            Some(p) => {
                tokens.push(Token::Punct(p));
                i += p.chars().count();
            }
            None => return Err(format!("unexpected character '{c}'")),
        }
    }
    Ok(tokens)
}

/// Parse one YAQL expression (the text between `<%` and `%>`).
pub fn parse(src: &str) -> Result<Expr, String> {
    let tokens = lex(src)?;
    let mut parser = Parser { tokens, pos: 0 };
    if parser.tokens.is_empty() {
        return Err("empty expression".into());
    }
    let expr = parser.or()?;
    if let Some(tok) = parser.peek() {
        return Err(format!("unexpected {} after the expression", describe(tok)));
    }
    Ok(expr)
}

fn describe(tok: &Token) -> String {
    match tok {
        Token::Int(n) => format!("number {n}"),
        Token::Float(f) => format!("number {f}"),
        Token::Str(s) => format!("string '{s}'"),
        Token::Ident(s) => format!("'{s}'"),
        Token::Dollar => "'$'".into(),
        Token::Punct(p) => format!("'{p}'"),
    }
}

/// Positional and named (`name => value`) call arguments.
type Arguments = (Vec<Expr>, Vec<(String, Expr)>);

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.pos + offset)
    }

    fn next(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Ident(s)) if s == kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), String> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(tok) => format!("expected '{p}' but found {}", describe(tok)),
                None => format!("expected '{p}' but the expression ended"),
            })
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            let right = self.not()?;
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        // `not` followed by `(` could also be a call of a function named
        // "not"; YAQL treats both the same way.
        if self.eat_keyword("not") {
            let inner = self.not()?;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let mut left = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Token::Punct("=")) => BinaryOp::Eq,
                Some(Token::Punct("!=")) => BinaryOp::Ne,
                Some(Token::Punct("<")) => BinaryOp::Lt,
                Some(Token::Punct("<=")) => BinaryOp::Le,
                Some(Token::Punct(">")) => BinaryOp::Gt,
                Some(Token::Punct(">=")) => BinaryOp::Ge,
                Some(Token::Ident(s)) if s == "in" => BinaryOp::In,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.additive()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_punct("+") {
                BinaryOp::Add
            } else if self.eat_punct("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_punct("*") {
                BinaryOp::Mul
            } else if self.eat_punct("/") {
                BinaryOp::Div
            } else if self.eat_keyword("mod") {
                BinaryOp::Mod
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat_punct("-") {
            let inner = self.unary()?;
            return Ok(Expr::Unary(UnaryOp::Neg, Box::new(inner)));
        }
        if self.eat_punct("+") {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            if self.eat_punct(".") {
                let name = match self.next() {
                    Some(Token::Ident(name)) => name,
                    Some(tok) => {
                        return Err(format!(
                            "expected a name after '.', found {}",
                            describe(&tok)
                        ))
                    }
                    None => return Err("expected a name after '.'".into()),
                };
                if self.eat_punct("(") {
                    let (mut args, kwargs) = self.arguments()?;
                    args.insert(0, expr);
                    expr = Expr::Call { name, args, kwargs };
                } else {
                    expr = Expr::Attr(Box::new(expr), name);
                }
            } else if self.eat_punct("[") {
                let index = self.or()?;
                self.expect_punct("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    /// Arguments after an opening `(`, through the closing `)`.
    fn arguments(&mut self) -> Result<Arguments, String> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        if self.eat_punct(")") {
            return Ok((args, kwargs));
        }
        loop {
            let is_kwarg = matches!(
                (self.peek(), self.peek_at(1)),
                (Some(Token::Ident(_)), Some(Token::Punct("=>")))
            );
            if is_kwarg {
                let Some(Token::Ident(name)) = self.next() else {
                    unreachable!("checked above")
                };
                self.pos += 1;
                kwargs.push((name, self.or()?));
            } else {
                if !kwargs.is_empty() {
                    return Err("positional argument after a named argument".into());
                }
                args.push(self.or()?);
            }
            if self.eat_punct(")") {
                return Ok((args, kwargs));
            }
            self.expect_punct(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(tok) = self.next() else {
            return Err("the expression ended unexpectedly".into());
        };
        match tok {
            Token::Int(n) => Ok(Expr::Literal(Value::from(n))),
            Token::Float(f) => Ok(Expr::Literal(
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or("invalid number")?,
            )),
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Dollar => {
                // `$name` reads a context variable, like `$.name`.
                if let Some(Token::Ident(name)) = self.peek().cloned() {
                    if !matches!(self.peek_at(1), Some(Token::Punct("("))) {
                        self.pos += 1;
                        return Ok(Expr::Attr(Box::new(Expr::Root), name));
                    }
                }
                Ok(Expr::Root)
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "null" => Ok(Expr::Literal(Value::Null)),
                _ if self.eat_punct("(") => {
                    let (args, kwargs) = self.arguments()?;
                    Ok(Expr::Call { name, args, kwargs })
                }
                _ => Ok(Expr::Literal(Value::String(name))),
            },
            Token::Punct("(") => {
                let inner = self.or()?;
                self.expect_punct(")")?;
                Ok(inner)
            }
            Token::Punct("[") => {
                let mut items = Vec::new();
                if self.eat_punct("]") {
                    return Ok(Expr::List(items));
                }
                loop {
                    items.push(self.or()?);
                    if self.eat_punct("]") {
                        return Ok(Expr::List(items));
                    }
                    self.expect_punct(",")?;
                }
            }
            Token::Punct("{") => {
                let mut entries = Vec::new();
                if self.eat_punct("}") {
                    return Ok(Expr::Dict(entries));
                }
                loop {
                    let key = self.or()?;
                    if !self.eat_punct("=>") {
                        self.expect_punct(":")?;
                    }
                    let value = self.or()?;
                    entries.push((key, value));
                    if self.eat_punct("}") {
                        return Ok(Expr::Dict(entries));
                    }
                    self.expect_punct(",")?;
                }
            }
            other => Err(format!("unexpected {}", describe(&other))),
        }
    }
}

/// Names of context variables an expression reads: `ctx(x)`, `ctx('x')`,
/// `ctx().x`, `$.x`. Used by inspection.
pub fn ctx_references(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Call { name, args, kwargs } => {
            if name == "ctx" {
                if let Some(Expr::Literal(Value::String(var))) = args.first() {
                    out.push(var.clone());
                }
            }
            args.iter().for_each(|a| ctx_references(a, out));
            kwargs.iter().for_each(|(_, a)| ctx_references(a, out));
        }
        Expr::Attr(inner, attr) => {
            let is_ctx_root = match inner.as_ref() {
                Expr::Root => true,
                Expr::Call { name, args, .. } => name == "ctx" && args.is_empty(),
                _ => false,
            };
            if is_ctx_root {
                out.push(attr.clone());
            }
            ctx_references(inner, out);
        }
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            ctx_references(a, out);
            ctx_references(b, out);
        }
        Expr::Unary(_, a) => ctx_references(a, out),
        Expr::List(items) => items.iter().for_each(|a| ctx_references(a, out)),
        Expr::Dict(entries) => entries.iter().for_each(|(k, v)| {
            ctx_references(k, out);
            ctx_references(v, out);
        }),
        Expr::Literal(_) | Expr::Root => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_binds_and_tighter_than_or() {
        let e = parse("a or b and c").unwrap();
        assert!(matches!(e, Expr::Binary(BinaryOp::Or, _, _)));
    }

    #[test]
    fn bare_names_are_strings_and_calls_are_calls() {
        assert_eq!(
            parse("ctx(x)").unwrap(),
            Expr::Call {
                name: "ctx".into(),
                args: vec![Expr::Literal(Value::String("x".into()))],
                kwargs: vec![]
            }
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(parse("ctx(").is_err());
        assert!(parse("1 +").is_err());
        assert!(parse("'abc").is_err());
        assert!(parse("a b").is_err());
    }

    #[test]
    fn references_are_collected() {
        let mut refs = Vec::new();
        ctx_references(
            &parse("ctx(a) + ctx().b + $.c + ctx('d')").unwrap(),
            &mut refs,
        );
        assert_eq!(refs, vec!["a", "b", "c", "d"]);
    }
}
