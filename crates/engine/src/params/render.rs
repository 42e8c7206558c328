//! StackStorm's parameter rendering: values and defaults that contain
//! `{{ }}` or `{% %}` are Jinja templates (StackStorm's Jinja, from
//! `stormdesk-jinja`: Python methods and `str()`, StackStorm's filters)
//! rendered against the other parameters, `config_context` (the pack
//! config), `action_context` and `st2kv`, in dependency order.
//!
//! A template that is a single expression (`"{{ count }}"`) keeps the type of
//! what it evaluates to, for parameters that are not strings; that is what
//! StackStorm's `to_complex` trick achieves for its complex types.

use std::collections::{BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{Map, Value};
use stormdesk_jinja::minijinja::{self, Environment, ErrorKind};

use super::error::ParamError;
use super::RenderContext;
use crate::pack::ParamSpec;

/// Names templates may use besides the parameters.
const CONTEXT_NAMES: &[&str] = &["config_context", "action_context", "st2kv"];

pub(crate) struct Rendered {
    pub values: IndexMap<String, Value>,
    /// Parameters whose value came from a template.
    pub templated: HashSet<String>,
    /// Parameters whose rendered value depends on a secret parameter.
    pub tainted: HashSet<String>,
}

fn environment(ctx: &RenderContext) -> Environment<'static> {
    let mut opts = stormdesk_jinja::Options::st2();
    if let Some(store) = &ctx.datastore {
        opts = opts.with_datastore(store.clone() as std::sync::Arc<dyn stormdesk_jinja::Datastore>);
    }
    stormdesk_jinja::environment(&opts)
}

pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn template_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if is_template(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| template_strings(i, out)),
        // StackStorm renders an object as its JSON text, so keys are
        // templates too (`env: {"{{ name }}": ...}` in its examples pack).
        Value::Object(map) => map.iter().for_each(|(k, i)| {
            if is_template(k) {
                out.push(k);
            }
            template_strings(i, out)
        }),
        _ => {}
    }
}

/// The inner expression when `s` is exactly one `{{ ... }}`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|m| inner.contains(m))
    {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner.trim())
}

struct Node {
    /// Parameters this template reads.
    deps: BTreeSet<String>,
}

/// Renders every templated value of `values` in dependency order.
pub(crate) fn render(
    action: &str,
    specs: &IndexMap<String, ParamSpec>,
    mut values: IndexMap<String, Value>,
    ctx: &RenderContext,
) -> Result<Rendered, ParamError> {
    // Most runs have no template at all: the environment (every filter and
    // function registered anew) is not built for them.
    let any_template = values.values().any(|v| {
        let mut strings = Vec::new();
        template_strings(v, &mut strings);
        !strings.is_empty()
    });
    if !any_template {
        return Ok(Rendered {
            values,
            templated: HashSet::new(),
            tainted: HashSet::new(),
        });
    }
    let env = environment(ctx);
    let globals: HashSet<String> = env.globals().map(|(k, _)| k.to_string()).collect();

    // Find the templates and what they depend on.
    let mut nodes: IndexMap<String, Node> = IndexMap::new();
    for (name, value) in &values {
        let secret = specs.get(name).is_some_and(|s| s.secret);
        let mut strings = Vec::new();
        template_strings(value, &mut strings);
        if strings.is_empty() {
            continue;
        }
        let mut deps = BTreeSet::new();
        let mut literal = false;
        for s in strings {
            let tmpl = match env.template_from_str(s) {
                Ok(t) => t,
                // A secret that merely looks like a template (a password
                // with braces) is taken literally.
                Err(_) if secret => {
                    literal = true;
                    break;
                }
                Err(e) => {
                    return Err(ParamError::Template {
                        action: action.to_string(),
                        name: name.clone(),
                        message: format!("invalid template syntax: {}", describe(&e)),
                    })
                }
            };
            for var in tmpl.undeclared_variables(false) {
                if CONTEXT_NAMES.contains(&var.as_str()) || globals.contains(&var) {
                    continue;
                }
                if !specs.contains_key(&var) {
                    return Err(ParamError::UndefinedVariable {
                        action: action.to_string(),
                        name: name.clone(),
                        variable: (!secret).then_some(var),
                    });
                }
                deps.insert(var);
            }
        }
        if !literal {
            nodes.insert(name.clone(), Node { deps });
        }
    }

    let order = topological_order(action, &nodes)?;

    let mut tainted: HashSet<String> = HashSet::new();
    for name in &order {
        let node = &nodes[name];
        let spec = specs.get(name);
        let secret_dep = node
            .deps
            .iter()
            .any(|d| specs.get(d).is_some_and(|s| s.secret) || tainted.contains(d));
        let hide = spec.is_some_and(|s| s.secret) || secret_dep;
        let context = context_value(specs, &values, ctx);
        let native = spec.and_then(|s| s.type_.as_deref()) != Some("string");
        let raw = values[name].clone();
        if let Some(store) = &ctx.datastore {
            store.take_decrypted();
        }
        let rendered = render_value(&env, &raw, &context, native).map_err(|message| {
            ParamError::Template {
                action: action.to_string(),
                name: name.clone(),
                message: if hide {
                    "the template failed; details are not shown because it involves a secret parameter".to_string()
                } else {
                    message
                },
            }
        })?;
        // A template that decrypted a datastore secret holds a secret.
        let decrypted = ctx.datastore.as_ref().is_some_and(|s| s.take_decrypted());
        if secret_dep || decrypted {
            tainted.insert(name.clone());
        }
        values.insert(name.clone(), rendered);
    }

    Ok(Rendered {
        values,
        templated: order.into_iter().collect(),
        tainted,
    })
}

/// Templates in an order where each comes after the templates it reads.
fn topological_order(
    action: &str,
    nodes: &IndexMap<String, Node>,
) -> Result<Vec<String>, ParamError> {
    // Only edges between templates matter: plain values are known already.
    let mut waiting: HashMap<&str, usize> = HashMap::new();
    let mut readers: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, node) in nodes {
        let deps: Vec<&str> = node
            .deps
            .iter()
            .map(String::as_str)
            .filter(|d| nodes.contains_key(*d))
            .collect();
        waiting.insert(name, deps.len());
        for d in deps {
            readers.entry(d).or_default().push(name);
        }
    }
    let mut ready: Vec<&str> = nodes
        .keys()
        .map(String::as_str)
        .filter(|n| waiting[n] == 0)
        .collect();
    ready.reverse();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(n) = ready.pop() {
        order.push(n.to_string());
        for r in readers.get(n).into_iter().flatten() {
            let w = waiting.get_mut(r).expect("every reader is a node");
            *w -= 1;
            if *w == 0 {
                ready.push(r);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    Err(ParamError::Cycle {
        action: action.to_string(),
        names: find_cycle(nodes, &waiting),
    })
}

/// One cycle among the templates left waiting, in dependency order, starting
/// with the one declared first.
fn find_cycle(nodes: &IndexMap<String, Node>, waiting: &HashMap<&str, usize>) -> Vec<String> {
    let stuck = |n: &str| waiting.get(n).is_some_and(|w| *w > 0);
    let Some(start) = nodes.keys().find(|n| stuck(n)) else {
        return Vec::new();
    };
    // Every stuck template reads at least one other stuck template, so
    // walking those edges must come back to a template already seen.
    let mut path: Vec<&str> = vec![start];
    loop {
        let current = *path.last().expect("path starts non-empty");
        let next = nodes[current]
            .deps
            .iter()
            .map(String::as_str)
            .find(|d| stuck(d))
            .expect("a stuck template reads a stuck template");
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let cycle = &path[pos..];
            let first = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| nodes.get_index_of(**n))
                .map(|(i, _)| i)
                .unwrap_or(0);
            // Reads: a reads b reads c ... ; report as a -> b -> c.
            return cycle[first..]
                .iter()
                .chain(&cycle[..first])
                .map(|s| s.to_string())
                .collect();
        }
        path.push(next);
    }
}

fn context_value(
    specs: &IndexMap<String, ParamSpec>,
    values: &IndexMap<String, Value>,
    ctx: &RenderContext,
) -> minijinja::Value {
    let mut map = Map::new();
    for name in specs.keys() {
        map.insert(
            name.clone(),
            values.get(name).cloned().unwrap_or(Value::Null),
        );
    }
    let config = if ctx.config.is_null() {
        Value::Object(Map::new())
    } else {
        ctx.config.clone()
    };
    map.insert("config_context".to_string(), config);
    let action_context = if ctx.action_context.is_null() {
        Value::Object(Map::new())
    } else {
        ctx.action_context.clone()
    };
    map.insert("action_context".to_string(), action_context);
    minijinja::Value::from_serialize(&map)
}

fn render_value(
    env: &Environment<'_>,
    value: &Value,
    ctx: &minijinja::Value,
    native: bool,
) -> Result<Value, String> {
    match value {
        Value::String(s) if is_template(s) => {
            if native {
                if let Some(expr) = single_expression(s) {
                    if let Ok(compiled) = env.compile_expression(expr) {
                        let v = compiled.eval(ctx).map_err(|e| describe(&e))?;
                        if v.is_undefined() {
                            return Err(undefined_hint());
                        }
                        return serde_json::to_value(&v).map_err(|e| e.to_string());
                    }
                }
            }
            env.render_str(s, ctx)
                .map(Value::String)
                .map_err(|e| describe(&e))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| render_value(env, i, ctx, true))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = if is_template(k) {
                    env.render_str(k, ctx).map_err(|e| describe(&e))?
                } else {
                    k.clone()
                };
                out.insert(key, render_value(env, v, ctx, true)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn undefined_hint() -> String {
    "the template reads an undefined value; check the parameter names and the keys after `config_context.` against the pack config".to_string()
}

fn describe(e: &minijinja::Error) -> String {
    if e.kind() == ErrorKind::UndefinedError {
        return undefined_hint();
    }
    let mut msg = e.to_string();
    // minijinja names the template "<string>"; the parameter is named already.
    if let Some(i) = msg.find(" (in <string>") {
        msg.truncate(i);
    }
    msg
}
