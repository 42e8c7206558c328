//! Evaluation of a parsed YAQL [`Expr`] over `serde_json::Value`s.

use serde_json::{Map, Value};

use super::{BinaryOp, Expr, UnaryOp};
use crate::expr::functions::{self as f, type_name};
use crate::expr::Scope;

pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, String> {
    match expr {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Root => Ok(Value::Object(scope.ctx.clone())),
        Expr::List(items) => items
            .iter()
            .map(|e| eval(e, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Expr::Dict(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = eval(k, scope)?;
                map.insert(f::display(&key), eval(v, scope)?);
            }
            Ok(Value::Object(map))
        }
        Expr::Attr(inner, name) => {
            // Reading one variable must not clone the whole context.
            if is_ctx_root(inner) {
                return scope
                    .ctx
                    .get(name)
                    .cloned()
                    .ok_or_else(|| f::missing_key(name));
            }
            match eval(inner, scope)? {
                Value::Object(mut map) => map.remove(name).ok_or_else(|| f::missing_key(name)),
                other => Err(format!(
                    "cannot read attribute \"{name}\" of a {}",
                    type_name(&other)
                )),
            }
        }
        Expr::Index(inner, index) => {
            let target = eval(inner, scope)?;
            let index = eval(index, scope)?;
            index_value(target, &index)
        }
        Expr::Call { name, args, kwargs } => call(name, args, kwargs, scope),
        Expr::Unary(UnaryOp::Not, inner) => Ok(Value::Bool(!f::truthy(&eval(inner, scope)?))),
        Expr::Unary(UnaryOp::Neg, inner) => match eval(inner, scope)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(Value::from(-i)),
                None => f::float_value(-n.as_f64().unwrap_or(0.0)),
            },
            other => Err(format!("cannot negate a {}", type_name(&other))),
        },
        Expr::Binary(BinaryOp::And, a, b) => {
            let left = eval(a, scope)?;
            if !f::truthy(&left) {
                return Ok(left);
            }
            eval(b, scope)
        }
        Expr::Binary(BinaryOp::Or, a, b) => {
            let left = eval(a, scope)?;
            if f::truthy(&left) {
                return Ok(left);
            }
            eval(b, scope)
        }
        Expr::Binary(op, a, b) => {
            let left = eval(a, scope)?;
            let right = eval(b, scope)?;
            binary(*op, &left, &right)
        }
    }
}

fn is_ctx_root(expr: &Expr) -> bool {
    match expr {
        Expr::Root => true,
        Expr::Call { name, args, kwargs } => name == "ctx" && args.is_empty() && kwargs.is_empty(),
        _ => false,
    }
}

fn index_value(target: Value, index: &Value) -> Result<Value, String> {
    match (target, index) {
        (Value::Array(mut items), Value::Number(n)) => {
            let i = n.as_i64().ok_or("list index must be an integer")?;
            let len = items.len() as i64;
            let pos = if i < 0 { len + i } else { i };
            if pos < 0 || pos >= len {
                return Err(format!("list index {i} out of range (length {len})"));
            }
            Ok(items.swap_remove(pos as usize))
        }
        (Value::Object(mut map), Value::String(k)) => {
            map.remove(k).ok_or_else(|| f::missing_key(k))
        }
        (Value::String(s), Value::Number(n)) => {
            let i = n.as_i64().ok_or("string index must be an integer")?;
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let pos = if i < 0 { len + i } else { i };
            if pos < 0 || pos >= len {
                return Err(format!("string index {i} out of range (length {len})"));
            }
            Ok(Value::String(chars[pos as usize].to_string()))
        }
        (target, index) => Err(format!(
            "cannot index a {} with a {}",
            type_name(&target),
            type_name(index)
        )),
    }
}

fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, String> {
    use std::cmp::Ordering::*;
    Ok(match op {
        BinaryOp::Eq => Value::Bool(f::equals(a, b)),
        BinaryOp::Ne => Value::Bool(!f::equals(a, b)),
        BinaryOp::Lt => Value::Bool(f::compare(a, b)? == Less),
        BinaryOp::Le => Value::Bool(f::compare(a, b)? != Greater),
        BinaryOp::Gt => Value::Bool(f::compare(a, b)? == Greater),
        BinaryOp::Ge => Value::Bool(f::compare(a, b)? != Less),
        BinaryOp::In => Value::Bool(f::contains(b, a)?),
        BinaryOp::Add => match (a, b) {
            (Value::String(x), Value::String(y)) => Value::String(format!("{x}{y}")),
            (Value::Array(x), Value::Array(y)) => {
                Value::Array(x.iter().chain(y.iter()).cloned().collect())
            }
            (Value::Object(x), Value::Object(y)) => {
                let mut merged = x.clone();
                merged.extend(y.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(merged)
            }
            _ => arithmetic(op, a, b)?,
        },
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => arithmetic(op, a, b)?,
        BinaryOp::And | BinaryOp::Or => unreachable!("short-circuit operators are handled in eval"),
    })
}

fn arithmetic(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, String> {
    let (Value::Number(x), Value::Number(y)) = (a, b) else {
        return Err(format!(
            "unsupported operand types for {}: {} and {}",
            symbol(op),
            type_name(a),
            type_name(b)
        ));
    };
    if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
        let int = match op {
            BinaryOp::Add => i.checked_add(j),
            BinaryOp::Sub => i.checked_sub(j),
            BinaryOp::Mul => i.checked_mul(j),
            BinaryOp::Div | BinaryOp::Mod if j == 0 => return Err("division by zero".into()),
            // Integer division stays an integer when it is exact.
            BinaryOp::Div if i % j == 0 => Some(i / j),
            BinaryOp::Div => None,
            // Python semantics: the result takes the sign of the divisor.
            BinaryOp::Mod => {
                let r = i % j;
                Some(if r != 0 && ((r < 0) != (j < 0)) {
                    r + j
                } else {
                    r
                })
            }
            _ => None,
        };
        if let Some(n) = int {
            return Ok(Value::from(n));
        }
    }
    let (p, q) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    let r = match op {
        BinaryOp::Add => p + q,
        BinaryOp::Sub => p - q,
        BinaryOp::Mul => p * q,
        BinaryOp::Div | BinaryOp::Mod if q == 0.0 => return Err("division by zero".into()),
        BinaryOp::Div => p / q,
        BinaryOp::Mod => p - q * (p / q).floor(),
        _ => unreachable!("only arithmetic operators reach here"),
    };
    f::float_value(r)
}

fn symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Mod => "mod",
        _ => "?",
    }
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "{name}() takes {expected} argument(s), {} given",
            args.len()
        ));
    }
    Ok(())
}

fn call(
    name: &str,
    arg_exprs: &[Expr],
    kwarg_exprs: &[(String, Expr)],
    scope: &Scope<'_>,
) -> Result<Value, String> {
    // `ctx(x)` reads one variable without materialising the whole context.
    if name == "ctx" && kwarg_exprs.is_empty() {
        return match arg_exprs {
            [] => Ok(Value::Object(scope.ctx.clone())),
            [key] => {
                let key = eval(key, scope)?;
                scope
                    .ctx_var(&f::display(&key))
                    .cloned()
                    .map_err(|m| format!("VariableUndefinedError: {m}"))
            }
            _ => Err("ctx() takes at most one argument".into()),
        };
    }
    let args = arg_exprs
        .iter()
        .map(|e| eval(e, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let mut kwargs = Vec::with_capacity(kwarg_exprs.len());
    for (k, e) in kwarg_exprs {
        kwargs.push((k.as_str(), eval(e, scope)?));
    }
    if let Some(result) = f::workflow_call(name, &args, &kwargs, scope) {
        return result;
    }
    let kwarg = |key: &str| kwargs.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    if let Some((unknown, _)) = kwargs.iter().find(|(k, _)| {
        !matches!(
            (name, *k),
            ("st2kv", "decrypt") | ("zip", "pad") | ("dict", _)
        )
    }) {
        return Err(format!(
            "{name}() got an unexpected named argument \"{unknown}\""
        ));
    }
    match name {
        "result" => {
            arity(name, &args, 0, 0)?;
            Ok(scope.result.cloned().unwrap_or(Value::Null))
        }
        "succeeded" | "failed" | "completed" => {
            arity(name, &args, 0, 0)?;
            scope.current_status_is(name).map(Value::Bool)
        }
        "task_status" => {
            arity(name, &args, 1, 1)?;
            Ok(scope.task_status(&f::display(&args[0])))
        }
        "item" => {
            arity(name, &args, 0, 1)?;
            scope.item(args.first().map(f::display).as_deref())
        }
        "st2kv" => {
            arity(name, &args, 1, 1)?;
            let decrypt = kwarg("decrypt").is_some_and(f::truthy);
            scope.st2kv(&f::display(&args[0]), decrypt)
        }
        "zip" => f::zip(&args, kwarg("pad").cloned().unwrap_or(Value::Null)),
        "json" => {
            arity(name, &args, 1, 1)?;
            f::json(&args[0])
        }
        "len" | "count" => {
            arity(name, &args, 1, 1)?;
            f::len(&args[0])
        }
        "str" | "string" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::String(f::display(&args[0])))
        }
        "int" => {
            arity(name, &args, 1, 1)?;
            f::to_int(&args[0])
        }
        "float" => {
            arity(name, &args, 1, 1)?;
            f::to_float(&args[0])
        }
        "bool" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::Bool(f::truthy(&args[0])))
        }
        "list" => Ok(match args.as_slice() {
            [Value::Array(items)] => Value::Array(items.clone()),
            [Value::Object(map)] => Value::Array(map.keys().cloned().map(Value::String).collect()),
            _ => Value::Array(args),
        }),
        "keys" => {
            arity(name, &args, 1, 1)?;
            f::keys(&args[0])
        }
        "values" => {
            arity(name, &args, 1, 1)?;
            f::values(&args[0])
        }
        "dict" => {
            let mut map = match args.as_slice() {
                [] => Map::new(),
                [single] => match f::dict_from(single)? {
                    Value::Object(m) => m,
                    _ => unreachable!("dict_from returns a dict"),
                },
                _ => return Err("dict() takes at most one positional argument".into()),
            };
            for (k, v) in &kwargs {
                map.insert((*k).to_string(), v.clone());
            }
            Ok(Value::Object(map))
        }
        "join" => {
            arity(name, &args, 2, 2)?;
            f::join(&args[0], &args[1])
        }
        "upper" | "toUpper" => string_fn(name, &args, |s| s.to_uppercase()),
        "lower" | "toLower" => string_fn(name, &args, |s| s.to_lowercase()),
        "trim" => string_fn(name, &args, |s| s.trim().to_string()),
        "isEmpty" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::Bool(!f::truthy(&args[0])))
        }
        "contains" => {
            arity(name, &args, 2, 2)?;
            f::contains(&args[0], &args[1]).map(Value::Bool)
        }
        _ => Err(format!("unknown function {name}()")),
    }
}

fn string_fn(name: &str, args: &[Value], op: impl Fn(&str) -> String) -> Result<Value, String> {
    arity(name, args, 1, 1)?;
    match &args[0] {
        Value::String(s) => Ok(Value::String(op(s))),
        other => Err(format!(
            "{name}() expects a string, got a {}",
            type_name(other)
        )),
    }
}
