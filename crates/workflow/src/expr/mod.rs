//! Expressions inside workflow strings: YAQL between `<% %>` and Jinja
//! between `{{ }}` / `{% %}`, evaluated as Orquesta evaluates them
//! (`orquesta/expressions/yql.py`, `orquesta/expressions/jinja.py`).
//!
//! A string that is exactly one expression evaluates to the expression's
//! value with its type (a list stays a list); an expression mixed with
//! text is rendered into the text the way Python's `str()` renders the
//! value (`True`, `None`, `['a', 1]`). A string result that itself holds
//! expressions of the same language is evaluated again, as Orquesta does.
//! Values are walked recursively, so expressions may sit at any depth of a
//! dict or list.
//!
//! Errors carry Orquesta's messages (`YaqlEvaluationException: Unable to
//! evaluate expression '<% ... %>'. ...`, `... Unable to resolve key 'k'
//! in expression ... from context.`, `JinjaEvaluationException: There are
//! unresolved variables: ...`).

pub mod functions;
pub mod jinja;
pub mod vars;
pub mod yaql;

use std::fmt;

use serde_json::{Map, Value};

/// Answers what only the caller knows: the datastore (`st2kv`) and the
/// records of task executions (ids and timestamps for `task()`).
pub trait Env {
    /// The value of a datastore key, `None` when the key does not exist; an
    /// error (its message) when the key exists but cannot be read, e.g. a
    /// secret that does not decrypt.
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String>;

    /// The name the datastore keeps `key` under, which StackStorm's "does
    /// not exist" error names (`st2common/util/keyvalue.py`,
    /// `_derive_scope_and_key`): `system.<name>` is `<name>`; any other key
    /// is the workflow user's, `<user>:<key>`. The default knows no user.
    fn st2kv_name(&self, key: &str) -> String {
        key.strip_prefix("system.").unwrap_or(key).to_string()
    }

    /// Extra fields StackStorm's `task()` reports for the latest execution
    /// of `task` on `route` (`task_execution_id`, `start_timestamp`,
    /// `end_timestamp`), and its `result` when the conductor does not keep
    /// results (`Conductor::keep_results_elsewhere`). The default knows
    /// none; they read as `null` (the result as `{}`).
    fn task_execution(&self, _task: &str, _route: u32) -> Option<Map<String, Value>> {
        None
    }
}

/// An [`Env`] with an empty datastore.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKv;

impl Env for NoKv {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// What expressions can ask about tasks of the running workflow.
pub trait TaskLookup {
    /// Orquesta's `task_status_(task, route)`: the status of the task's
    /// latest run on `route`, else on the route this one split from;
    /// `"null"` when it has not run there.
    fn status_of(&self, task: &str, route: u32) -> &'static str;

    /// StackStorm's `task(name, route)` (st2 `orquesta_functions/runtime.py`):
    /// `{task_execution_id, workflow_execution_id, task_name, task_id,
    /// route, result, status, start_timestamp, end_timestamp}` of the
    /// task's latest execution, `None` when it has none.
    fn task(&self, task: &str, route: u32, env: &dyn Env) -> Option<Value>;
}

/// A lookup for expressions evaluated outside any workflow run.
pub struct NoTasks;

impl TaskLookup for NoTasks {
    fn status_of(&self, _task: &str, _route: u32) -> &'static str {
        "null"
    }

    fn task(&self, _task: &str, _route: u32, _env: &dyn Env) -> Option<Value> {
        None
    }
}

/// Which language a string uses, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Yaql,
    Jinja,
}

/// How an expression failed; decides Orquesta's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Any evaluation error: `Unable to evaluate expression '...'. <reason>`.
    Evaluate,
    /// A dict key that does not exist (YAQL): `Unable to resolve key ...`.
    MissingKey(String),
    /// Jinja expressions that stayed undefined: `There are unresolved
    /// variables: ...` (the `reason` holds the list).
    Unresolved,
    /// The expression does not parse.
    Syntax,
    /// A value of the wrong type where the conductor needs one (task delay,
    /// items); the reason is the whole message (`TypeError: ...`).
    Type,
    /// The evaluator already worded the message as Orquesta does (the
    /// reason is the whole message after the class).
    Worded,
}

/// An expression that failed to parse or evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExpressionError {
    /// The expression as written, delimiters included (for Jinja blocks,
    /// the whole text).
    pub expression: String,
    pub reason: String,
    pub kind: ErrorKind,
    pub language: Language,
}

impl ExpressionError {
    fn new(language: Language, expression: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let kind = match functions::missing_key_name(&reason) {
            Some(key) => ErrorKind::MissingKey(key.to_string()),
            None => ErrorKind::Evaluate,
        };
        ExpressionError {
            expression: expression.to_string(),
            reason,
            kind,
            language,
        }
    }

    pub(crate) fn syntax(language: Language, expression: &str, reason: impl Into<String>) -> Self {
        ExpressionError {
            kind: ErrorKind::Syntax,
            ..ExpressionError::new(language, expression, reason)
        }
    }

    /// An error whose message the evaluator already words as Orquesta does
    /// (`Unable to evaluate expression '...'. Class: ...` or `Unable to
    /// resolve key ...`): the YAQL evaluator's errors come this way.
    pub fn worded(language: Language, expression: &str, message: impl Into<String>) -> Self {
        ExpressionError {
            expression: expression.to_string(),
            reason: message.into(),
            kind: ErrorKind::Worded,
            language,
        }
    }

    /// A type error raised by the conductor about an evaluated value.
    pub fn type_error(expression: &str, message: impl Into<String>) -> Self {
        ExpressionError {
            expression: expression.to_string(),
            reason: message.into(),
            kind: ErrorKind::Type,
            language: language(expression).unwrap_or(Language::Yaql),
        }
    }

    /// Orquesta's exception class for this error.
    pub fn class(&self) -> &'static str {
        match (self.kind.clone(), self.language) {
            (ErrorKind::Type, _) => "TypeError",
            (ErrorKind::Syntax, Language::Yaql) => "YaqlGrammarException",
            (ErrorKind::Syntax, Language::Jinja) => "JinjaGrammarException",
            (_, Language::Yaql) => "YaqlEvaluationException",
            (_, Language::Jinja) => "JinjaEvaluationException",
        }
    }

    /// The message without the class, as Orquesta words it.
    pub fn detail(&self) -> String {
        match &self.kind {
            ErrorKind::MissingKey(key) => format!(
                "Unable to resolve key '{key}' in expression '{}' from context.",
                self.expression
            ),
            ErrorKind::Unresolved => {
                format!("There are unresolved variables: {}", self.reason)
            }
            ErrorKind::Type | ErrorKind::Worded => self.reason.clone(),
            ErrorKind::Evaluate | ErrorKind::Syntax => format!(
                "Unable to evaluate expression '{}'. {}",
                self.expression, self.reason
            ),
        }
    }
}

impl fmt::Display for ExpressionError {
    /// `Class: detail`, the form Orquesta logs in the workflow's errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class(), self.detail())
    }
}

/// The task whose transitions, retry or input are being evaluated.
#[derive(Debug, Clone, Copy)]
pub struct CurrentTask<'a> {
    pub name: &'a str,
    pub route: u32,
}

/// Everything an expression can read.
pub struct Scope<'a> {
    pub ctx: &'a Map<String, Value>,
    /// The current task (`succeeded()`, `result()`, `task()` with no name);
    /// `None` for workflow input, vars and output.
    pub task: Option<CurrentTask<'a>>,
    /// The current task's result: set for transitions and retry, `None`
    /// for task input (where `result()` is null, as in Orquesta).
    pub result: Option<&'a Value>,
    /// The current item of a with-items task.
    pub item: Option<&'a Value>,
    pub statuses: &'a dyn TaskLookup,
    pub env: &'a dyn Env,
}

impl<'a> Scope<'a> {
    /// A scope with only a context (workflow input, vars and output).
    pub fn workflow(ctx: &'a Map<String, Value>, env: &'a dyn Env) -> Scope<'a> {
        Scope {
            ctx,
            task: None,
            result: None,
            item: None,
            statuses: &NoTasks,
            env,
        }
    }

    /// `ctx(name)`; the error is the message of Orquesta's
    /// `VariableUndefinedError` (or `VariableInaccessibleError`).
    ///
    /// The methods below return Orquesta's messages without the exception
    /// class; [`functions::workflow_call`] adds the class.
    pub(crate) fn ctx_var(&self, name: &str) -> Result<&'a Value, String> {
        if name.starts_with("__") && self.ctx.contains_key(name) {
            return Err(format!(
                "The variable \"{name}\" is for internal use and inaccessible."
            ));
        }
        self.ctx
            .get(name)
            .ok_or_else(|| format!("The variable \"{name}\" is undefined."))
    }

    fn current(&self) -> Result<CurrentTask<'a>, String> {
        self.task
            .ok_or_else(|| "The current task is not set in the context.".to_string())
    }

    /// `succeeded()`, `failed()`, `completed()` of the current task.
    pub(crate) fn current_status_is(&self, which: &str) -> Result<bool, String> {
        let current = self.current()?;
        let status = self.statuses.status_of(current.name, current.route);
        Ok(match which {
            "succeeded" => status == "succeeded",
            "failed" => status == "failed",
            _ => COMPLETED.contains(&status),
        })
    }

    /// `result()`: the current task's result, null in task input.
    pub(crate) fn result_value(&self) -> Result<Value, String> {
        self.current()?;
        Ok(self.result.cloned().unwrap_or(Value::Null))
    }

    /// `item()` / `item(key)`.
    pub(crate) fn item(&self, key: Option<&str>) -> Result<Value, String> {
        let item = self.item.unwrap_or(&Value::Null);
        match key {
            None | Some("") => Ok(item.clone()),
            Some(key) => match item {
                Value::Object(map) => map
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("Item does not have key \"{key}\".")),
                _ => Err("Item is not type of collections.Mapping.".to_string()),
            },
        }
    }

    /// `st2kv(key, decrypt=>bool, default=>value)` (StackStorm's
    /// `st2common/expressions/functions/datastore.py`).
    pub(crate) fn st2kv_or(
        &self,
        key: &str,
        decrypt: bool,
        default: Option<Value>,
    ) -> Result<Value, String> {
        match self.env.st2kv(key, decrypt)? {
            Some(v) => Ok(v),
            None => default.ok_or_else(|| {
                format!(
                    "The key \"{}\" does not exist in the StackStorm datastore.",
                    self.env.st2kv_name(key)
                )
            }),
        }
    }

    /// StackStorm's `task(name=None, route=None)`.
    pub(crate) fn task_info(
        &self,
        name: Option<&str>,
        route: Option<u32>,
    ) -> Result<Value, String> {
        let name = match name {
            Some(n) => n,
            None => self
                .current()
                .map(|t| t.name)
                // StackStorm reads the current task's `id`: a KeyError.
                .map_err(|_| functions::missing_key("id"))?,
        };
        let route = route.unwrap_or_else(|| self.task.map_or(0, |t| t.route));
        self.statuses
            .task(name, route, self.env)
            .ok_or_else(|| format!("Unable to find task execution for \"{name}\"."))
    }
}

const COMPLETED: [&str; 5] = ["succeeded", "failed", "timeout", "abandoned", "canceled"];

/// Which language a string uses, if any. Jinja is tried first, as
/// Orquesta's evaluators are; a delimiter without its closing half (or
/// split across lines) is plain text.
pub fn language(s: &str) -> Option<Language> {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|c| *c == b'<' || *c == b'{') {
        return None;
    }
    if delimited(s, "{{", "}}").next().is_some() || delimited(s, "{%", "%}").next().is_some() {
        Some(Language::Jinja)
    } else if yaql_segments(s).next().is_some() {
        Some(Language::Yaql)
    } else {
        None
    }
}

/// The `<% ... %>` segments of a string as (start, end) byte ranges, found
/// the way Orquesta's `<%.*?%>` finds them (shortest, never across lines).
pub(crate) fn yaql_segments(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    delimited(s, "<%", "%>")
}

/// `open ... close` segments, shortest match, not spanning a newline.
pub(crate) fn delimited<'s>(
    s: &'s str,
    open: &'static str,
    close: &'static str,
) -> impl Iterator<Item = (usize, usize)> + 's {
    let (bytes, open, close) = (s.as_bytes(), open.as_bytes(), close.as_bytes());
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let start = from + find_pair(bytes.get(from..)?, open)?;
        let body = start + 2;
        let mut i = body;
        while let Some(&c) = bytes.get(i) {
            if c == b'\n' {
                break;
            }
            if c == close[0] && bytes.get(i + 1) == Some(&close[1]) {
                from = i + 2;
                return Some((start, i + 2));
            }
            i += 1;
        }
        from = start + 1;
    })
}

/// The first position of a two-byte delimiter (a plain byte scan: the
/// strings are short and most hold no expression).
fn find_pair(bytes: &[u8], pair: &[u8]) -> Option<usize> {
    let (a, b) = (pair[0], pair[1]);
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|c| *c == a) {
        let at = i + p;
        if bytes.get(at + 1) == Some(&b) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Depth limit for results that hold further expressions.
const MAX_EXPANSION: usize = 16;

/// Evaluate a string that may contain expressions.
pub fn evaluate_str(s: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    let mut value = evaluate_once(s, scope)?;
    // Orquesta evaluates a string result again when it holds expressions.
    for _ in 0..MAX_EXPANSION {
        match &value {
            Value::String(text) if language(text).is_some() && text != s => {
                value = evaluate_once(text, scope)?;
            }
            _ => return Ok(value),
        }
    }
    Err(ExpressionError::new(
        language(s).unwrap_or(Language::Yaql),
        s,
        "RecursionError: the result keeps producing expressions",
    ))
}

fn evaluate_once(s: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    match language(s) {
        None => Ok(Value::String(s.to_string())),
        Some(Language::Jinja) => jinja::evaluate(s, scope),
        Some(Language::Yaql) => yaql::evaluate_text(s, scope)
            .map_err(|e| ExpressionError::worded(Language::Yaql, &e.expression, e.message())),
    }
}

/// Evaluate every expression in a value, at any depth (dict keys too, as
/// Orquesta does).
pub fn evaluate_value(value: &Value, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    match value {
        Value::String(s) => evaluate_str(s, scope),
        Value::Array(items) => items
            .iter()
            .map(|v| evaluate_value(v, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match evaluate_str(k, scope)? {
                    Value::String(k) => k,
                    other => functions::python_str(&other),
                };
                out.insert(key, evaluate_value(v, scope)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// True when any string in the value holds an expression.
pub fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => language(s).is_some(),
        Value::Array(items) => items.iter().any(has_expression),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| language(k).is_some() || has_expression(v)),
        _ => false,
    }
}

/// Parse every expression in the string without evaluating it (Orquesta's
/// `validate`): YAQL segments one by one, Jinja as a whole template and each
/// `{{ }}` alone; mixing both languages in one string is refused.
pub fn check_str(s: &str) -> Result<(), ExpressionError> {
    let has_yaql = yaql_segments(s).next().is_some();
    let has_jinja =
        delimited(s, "{{", "}}").next().is_some() || delimited(s, "{%", "%}").next().is_some();
    match (has_yaql, has_jinja) {
        (true, true) => Err(ExpressionError::syntax(
            Language::Yaql,
            s,
            "Expression with multiple types is not supported.",
        )),
        (true, false) => {
            for (start, end) in yaql_segments(s) {
                let text = &s[start..end];
                yaql::parse_cached(text[2..text.len() - 2].trim())
                    .map_err(|r| ExpressionError::syntax(Language::Yaql, text, r.to_string()))?;
            }
            Ok(())
        }
        (false, true) => jinja::check(s),
        (false, false) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_with(s: &str, ctx: Value) -> Result<Value, ExpressionError> {
        let Value::Object(ctx) = ctx else { panic!() };
        evaluate_str(s, &Scope::workflow(&ctx, &NoKv))
    }

    #[test]
    fn whole_expression_keeps_type() {
        assert_eq!(
            eval_with("<% ctx(xs) %>", json!({"xs": [1, 2]})).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            eval_with("{{ ctx('xs') }}", json!({"xs": [1, 2]})).unwrap(),
            json!([1, 2])
        );
    }

    #[test]
    fn mixed_text_is_rendered_as_python_str() {
        assert_eq!(
            eval_with(
                "n=<% ctx(n) %>, xs=<% ctx(xs) %>, b=<% ctx(b) %>",
                json!({"n": 3, "xs": ["a", 1], "b": true})
            )
            .unwrap(),
            json!("n=3, xs=['a', 1], b=True")
        );
    }

    #[test]
    fn unknown_variable_has_orquesta_message() {
        let e = eval_with("<% ctx(nme) %>", json!({"name": 1})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "YaqlEvaluationException: Unable to evaluate expression '<% ctx(nme) %>'. \
             VariableUndefinedError: The variable \"nme\" is undefined."
        );
    }

    #[test]
    fn segments_do_not_span_lines() {
        let s = "<% a\n %> <% b %>";
        assert_eq!(yaql_segments(s).collect::<Vec<_>>(), vec![(9, 16)]);
    }
}
