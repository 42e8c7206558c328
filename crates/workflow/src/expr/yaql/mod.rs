//! YAQL, the whole language as the `yaql` library (3.x) implements it and
//! as Orquesta evaluates it (`orquesta/expressions/yql.py`).
//!
//! - [`lexer`] and [`parser`]: yaql's tokens and grammar, with a nesting
//!   limit ([`parser::MAX_NESTING`]).
//! - [`interp`]: contexts, lambdas, the `.` operator and yaql's overload
//!   resolution, with a call-depth limit ([`interp::MAX_EVAL_DEPTH`]).
//! - [`lib`]: the standard library (queries, collections, strings, regex,
//!   math, dates, branching) and Orquesta's functions.
//! - [`evaluate_text`]: Orquesta's evaluation of a string holding `<% %>`
//!   expressions.
//!
//! Values borrow the workflow context instead of copying it ([`value`]).
//! See the crate README, "YAQL", for what differs from yaql and why.

pub mod convert;
pub mod error;
pub mod format;
pub mod interp;
pub mod lexer;
pub mod lib;
pub mod parser;
pub mod resolve;
pub mod value;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;

pub use error::Error;
pub use parser::{Arg, Expr, Lit};

use crate::expr::Scope;
use interp::{Frame, Interp};
use value::V;

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// Parse one YAQL expression (the text between `<%` and `%>`).
///
/// Errors are `YaqlLexicalException` or `YaqlGrammarException`, as yaql's.
pub fn parse(src: &str) -> Result<Expr, Error> {
    parser::parse(src)
}

thread_local! {
    static PARSED: RefCell<HashMap<String, Rc<Expr>>> = RefCell::new(HashMap::new());
}

/// [`parse`] with a per-thread cache: workflows evaluate the same few
/// expressions again and again.
pub fn parse_cached(src: &str) -> Result<Rc<Expr>, Error> {
    if let Some(e) = PARSED.with(|c| c.borrow().get(src).cloned()) {
        return Ok(e);
    }
    let e = Rc::new(parser::parse(src)?);
    PARSED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(src.to_string(), e.clone());
    });
    Ok(e)
}

/// Evaluation of one parsed expression into JSON.
pub mod eval {
    use super::*;

    /// Evaluates `expr` over `scope`. The value is converted as yaql
    /// returns it to Orquesta (tuples and generators become lists).
    pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, Error> {
        let interp = Interp::new(scope);
        let root = Frame::root();
        let v = interp.eval(expr, &root)?;
        convert::to_json(&v)
    }
}

/// An error of [`evaluate_text`]: the `<% ... %>` segment it came from and
/// the YAQL error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// The expression as found in the text, delimiters included.
    pub expression: String,
    pub error: Error,
}

impl TextError {
    /// Orquesta's message: `Unable to resolve key 'x' in expression '<% ..
    /// %>' from context.` for a missing key, else `Unable to evaluate
    /// expression '<% .. %>'. ErrorClass: message`.
    pub fn message(&self) -> String {
        self.error.orquesta_message(&self.expression)
    }
}

/// Deepest re-evaluation of results that are themselves expressions.
const MAX_TEXT_DEPTH: usize = 20;

/// The `<% ... %>` segments as Orquesta's `<%.*?%>` finds them (a segment
/// does not span lines), with their byte ranges.
pub fn segments(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'<' && bytes[i + 1] == b'%' {
            let rest = &text[i + 2..];
            let line_end = rest.find('\n').unwrap_or(rest.len());
            if let Some(close) = rest[..line_end].find("%>") {
                let end = i + 2 + close + 2;
                out.push((i, end));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Orquesta's evaluation of a string (`YAQLEvaluator.evaluate`): a string
/// that is exactly one expression gives the expression's value; otherwise
/// each expression's value is written into the text as Python's `str()`
/// shows it (`True`, `None`, `{'a': 1}`). A result that is a string holding
/// expressions is evaluated again, as Orquesta does.
pub fn evaluate_text(text: &str, scope: &Scope<'_>) -> Result<Value, TextError> {
    evaluate_at(text, scope, 0)
}

fn evaluate_at(text: &str, scope: &Scope<'_>, depth: usize) -> Result<Value, TextError> {
    let found = segments(text);
    let mut output: Option<String> = None;
    let many = found.len() > 1;
    for (start, end) in found {
        let expr_text = &text[start..end];
        let fail = |error: Error| TextError {
            expression: expr_text.to_string(),
            error,
        };
        if depth > MAX_TEXT_DEPTH {
            return Err(fail(Error::new(
                "RecursionError",
                format!("expression results re-evaluated more than {MAX_TEXT_DEPTH} times"),
            )));
        }
        let stripped = expr_text
            .trim_matches(|c| matches!(c, '<' | '%' | '>'))
            .trim();
        let expr = parse_cached(stripped).map_err(fail)?;
        let interp = Interp::new(scope);
        let root = Frame::root();
        let value = interp.eval(&expr, &root).map_err(fail)?;
        let current = output.as_deref().unwrap_or(text);
        let whole = !many && current.len() <= expr_text.len();
        let rendered: Value = match value {
            V::Str(s) => evaluate_at(&s, scope, depth + 1)?,
            other if whole => convert::to_json(&other).map_err(fail)?,
            other => Value::String(format::py_str(&other, true).map_err(fail)?),
        };
        if whole {
            return Ok(rendered);
        }
        let piece = match &rendered {
            Value::String(s) => s.clone(),
            other => python_str_of_json(other),
        };
        output = Some(current.replace(expr_text, &piece));
    }
    Ok(Value::String(output.unwrap_or_else(|| text.to_string())))
}

/// Python's `str()` of a JSON-shaped value (a re-evaluated result).
fn python_str_of_json(v: &Value) -> String {
    match V::from_json(v) {
        V::Str(s) => s.to_string(),
        other => format::py_str(&other, true).unwrap_or_default(),
    }
}

/// Names of context variables an expression reads (`ctx(x)`, `ctx('x')`,
/// `ctx().x`), for inspection, as Orquesta's `extract_vars` finds them.
pub fn ctx_references(expr: &Expr, out: &mut Vec<String>) {
    // Explicit stack, children pushed in reverse: a left-to-right pre-order
    // walk without recursion.
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Call { name, args, .. } => {
                if &**name == "ctx" {
                    if let [Arg::Pos(Expr::Keyword(k) | Expr::Const(Lit::Str(k)))] = args.as_slice()
                    {
                        out.push(k.to_string());
                    }
                }
                if let Some((left, Expr::Keyword(attr))) = e.binary("#operator_.") {
                    if matches!(left, Expr::Call { name, args, written: true } if &**name == "ctx" && args.is_empty())
                    {
                        out.push(attr.to_string());
                    }
                }
                for a in args.iter().rev() {
                    match a {
                        Arg::Pos(x) => stack.push(x),
                        Arg::Named(k, v) => {
                            stack.push(v);
                            stack.push(k);
                        }
                        Arg::Hole => {}
                    }
                }
            }
            Expr::Wrap(inner) => stack.push(inner),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::NoKv;
    use serde_json::json;

    fn run(text: &str, ctx: Value) -> Result<Value, String> {
        let Value::Object(ctx) = ctx else { panic!() };
        let scope = Scope::workflow(&ctx, &NoKv);
        evaluate_text(text, &scope).map_err(|e| e.message())
    }

    #[test]
    fn queries_and_lambdas() {
        let ctx =
            json!({"xs": [1, 2, 3], "people": [{"name": "a", "age": 3}, {"name": "b", "age": 1}]});
        assert_eq!(
            run("<% ctx().xs.where($ > 1) %>", ctx.clone()).unwrap(),
            json!([2, 3])
        );
        assert_eq!(
            run(
                "<% ctx().people.orderBy($.age).select($.name) %>",
                ctx.clone()
            )
            .unwrap(),
            json!(["b", "a"])
        );
        assert_eq!(
            run("<% let(x => 2) -> ctx().xs.select($ * $x) %>", ctx).unwrap(),
            json!([2, 4, 6])
        );
    }

    #[test]
    fn text_renders_like_python() {
        let ctx = json!({"a": [1, "x"], "t": true});
        assert_eq!(
            run("v=<% ctx().a %> <% ctx().t %> <% null %>", ctx.clone()).unwrap(),
            json!("v=[1, 'x'] True None")
        );
        assert_eq!(run(" <% 1 %> ", ctx).unwrap(), json!(" 1 "));
    }

    #[test]
    fn missing_key_is_orquestas_message() {
        let e = run("<% ctx().b %>", json!({"a": 1})).unwrap_err();
        assert_eq!(
            e,
            "Unable to resolve key 'b' in expression '<% ctx().b %>' from context."
        );
        let e = run("<% 'a' + 1 %>", json!({})).unwrap_err();
        assert!(e.contains("NoMatchingFunctionException"), "{e}");
    }

    #[test]
    fn recursive_definitions_stop_with_an_error() {
        let e = run("<% def(f, f($)) -> f(1) %>", json!({})).unwrap_err();
        assert!(e.contains("RecursionError"), "{e}");
        let e = run("<% ctx().x %>", json!({"x": "<% ctx().x %>"})).unwrap_err();
        assert!(e.contains("RecursionError"), "{e}");
    }

    #[test]
    fn references_are_collected() {
        let mut refs = Vec::new();
        ctx_references(&parse("ctx(a) + ctx().b + ctx('d')").unwrap(), &mut refs);
        assert_eq!(refs, vec!["a", "b", "d"]);
    }
}
