//! Jinja in an ActionChain, with the contexts StackStorm's runner builds
//! (`action_chain_runner.py`): `vars` see the chain's parameters and
//! `st2kv`; a link's parameters see the parameters, the results of earlier
//! links by name (`{{ task1.stdout }}`), the variables (`vars` and what was
//! published), `__results`, `system` and `st2kv` (the datastore),
//! `action_context` (`{"parent": ...}`) and `config_context` (the pack
//! config); `publish` sees the parameters, the link's own result under its
//! name, the results, the variables and `__results`. Later names win, in
//! that order. Every context also holds `action_context`, so a template
//! can read it anywhere.

use std::sync::Arc;

use serde_json::{Map, Value};
use stormdesk_jinja::minijinja::Environment;

use crate::params::datastore::KvStore;

/// `__results`: every result so far, by link name.
const RESULTS_KEY: &str = "__results";

/// An environment for one chain (StackStorm's Jinja, with `st2kv` and
/// `system` reading the datastore as the chain's user sees it).
pub(crate) fn environment(datastore: Option<Arc<KvStore>>) -> Environment<'static> {
    let mut opts = stormdesk_jinja::Options::st2();
    if let Some(store) = datastore {
        opts = opts.with_datastore(store as Arc<dyn stormdesk_jinja::Datastore>);
    }
    let mut env = stormdesk_jinja::environment(&opts);
    // `{{ system.key }}`: the system scope of the datastore, as StackStorm's
    // chain contexts name it besides `st2kv.system`.
    let system = env
        .globals()
        .find(|(k, _)| *k == "st2kv")
        .and_then(|(_, v)| v.get_attr("system").ok());
    if let Some(system) = system.filter(|v| !v.is_undefined()) {
        env.add_global("system", system);
    }
    env
}

/// Renders a mapping with StackStorm's `render_values`; a failure message
/// names the key and its template, as StackStorm's does.
pub(crate) fn render(
    env: &Environment<'_>,
    mapping: &Map<String, Value>,
    context: &Map<String, Value>,
    what: &str,
    link: &str,
) -> Result<Map<String, Value>, String> {
    stormdesk_jinja::render_values(env, mapping, context).map_err(|e| {
        let (key, inner) = match &e {
            stormdesk_jinja::Error::Key { key, error } => (key.clone(), error.to_string()),
            other => (String::new(), other.to_string()),
        };
        let template = mapping.get(&key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let place = if link.is_empty() {
            String::new()
        } else {
            format!(" in task \"{link}\"")
        };
        format!(
            "Failed rendering value for {what} \"{key}\"{place} (template string={}): {inner}",
            template.unwrap_or_default()
        )
    })
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

/// The context of `vars`: the parameters (and `action_context`).
pub(crate) fn vars_context(
    parameters: &Map<String, Value>,
    action_context: &Value,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("action_context".into(), action_context.clone());
    merge(&mut ctx, parameters);
    ctx
}

/// The context of a link's parameters (`_resolve_params`).
pub(crate) fn params_context(
    parameters: &Map<String, Value>,
    results: &Map<String, Value>,
    vars: &Map<String, Value>,
    action_context: &Value,
    config: &Value,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    merge(&mut ctx, parameters);
    merge(&mut ctx, results);
    merge(&mut ctx, vars);
    ctx.insert(RESULTS_KEY.into(), Value::Object(results.clone()));
    ctx.insert("action_context".into(), action_context.clone());
    ctx.insert("config_context".into(), config.clone());
    ctx
}

/// The context of a link's `publish` (`_render_publish_vars`).
pub(crate) fn publish_context(
    parameters: &Map<String, Value>,
    link: &str,
    result: &Value,
    results: &Map<String, Value>,
    vars: &Map<String, Value>,
    action_context: &Value,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("action_context".into(), action_context.clone());
    merge(&mut ctx, parameters);
    ctx.insert(link.to_string(), result.clone());
    merge(&mut ctx, results);
    merge(&mut ctx, vars);
    ctx.insert(RESULTS_KEY.into(), Value::Object(results.clone()));
    ctx
}
