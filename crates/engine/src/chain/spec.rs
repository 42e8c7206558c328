//! An ActionChain file, read and checked as StackStorm reads it
//! (`st2common/models/system/actionchain.py` for the schema,
//! `ChainHolder` in `action_chain_runner.py` for the default link and the
//! name checks), plus Stormdesk's check that every link's `ref` names an
//! action that can run.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys a chain file may have (`additionalProperties: false`).
const CHAIN_KEYS: &[&str] = &["chain", "default", "vars"];
/// The keys of a link. StackStorm's schema lists the link schema as a
/// one-element `items` array (Draft 4 tuple validation), so only the first
/// link is checked against it; later links may carry other keys (the
/// examples pack's `publish_data` chain has `description`).
const LINK_KEYS: &[&str] = &[
    "name",
    "ref",
    "params",
    "parameters",
    "on-success",
    "on-failure",
    "publish",
    "notify",
];
const NOTIFY_KEYS: &[&str] = &["on-complete", "on-failure", "on-success"];

/// One link of a chain.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Link {
    pub name: String,
    #[serde(rename = "ref")]
    pub ref_: String,
    /// `params` or `parameters` (StackStorm accepts either, not both).
    pub parameters: Map<String, Value>,
    /// Whether the file said `params` (the older name) or `parameters`.
    #[serde(default)]
    pub old_params: bool,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub publish: Map<String, Value>,
    /// Recorded with the link; Stormdesk sends no notifications.
    pub notify: Option<Value>,
}

impl Link {
    /// The link as StackStorm puts it in a link execution's `context.chain`
    /// (`vars(action_node)`: the node's attributes, null when absent).
    pub fn context(&self) -> Value {
        let (params, parameters) = if self.old_params {
            (Value::Object(self.parameters.clone()), Value::Null)
        } else {
            (Value::Null, Value::Object(self.parameters.clone()))
        };
        serde_json::json!({
            "name": self.name,
            "ref": self.ref_,
            "params": params,
            "parameters": parameters,
            "on_success": self.on_success,
            "on_failure": self.on_failure,
            "publish": if self.publish.is_empty() { Value::Null } else { Value::Object(self.publish.clone()) },
            "notify": self.notify,
        })
    }
}

/// A chain: its links, the first link to run and its variables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChainSpec {
    pub links: Vec<Link>,
    /// The link that runs first: `default`, else the first link no other
    /// link leads to, else the first link (`ChainHolder._get_default`).
    pub default: String,
    pub vars: Map<String, Value>,
}

impl ChainSpec {
    /// The link named `name` (the first of that name, as StackStorm's `get_node`).
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}

fn is_word(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Parses and checks a chain file's text; every problem is listed, each
/// naming the link (by name, or by position when it has none).
pub fn parse(text: &str) -> Result<ChainSpec, Vec<String>> {
    let doc: Value =
        serde_yaml::from_str(text).map_err(|e| vec![format!("not valid YAML: {e}")])?;
    let Value::Object(top) = doc else {
        return Err(vec![format!(
            "the file must be a mapping with `chain` (a list of links), not {}",
            kind(&doc)
        )]);
    };
    let mut errors = Vec::new();
    for key in top.keys() {
        if !CHAIN_KEYS.contains(&key.as_str()) {
            errors.push(format!(
                "unknown key `{key}` at the top (a chain file has: chain, default, vars)"
            ));
        }
    }
    let vars = match top.get("vars") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => {
            for k in v.keys().filter(|k| !is_word(k)) {
                errors.push(format!(
                    "vars: `{k}` is not a valid variable name (letters, digits and _ only)"
                ));
            }
            v.clone()
        }
        Some(other) => {
            errors.push(format!("vars must be a mapping, not {}", kind(other)));
            Map::new()
        }
    };
    let default = match top.get("default") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(other) => {
            errors.push(format!("default must be a link name, not {}", kind(other)));
            None
        }
    };
    let items = match top.get("chain") {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => {
            errors.push("`chain` is missing: list the links to run under `chain:`".into());
            Vec::new()
        }
        Some(other) => {
            errors.push(format!(
                "chain must be a list of links, not {}",
                kind(other)
            ));
            Vec::new()
        }
    };
    let mut links = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_link(i, item) {
            Ok(link) => links.push(link),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let default = match default.or_else(|| find_default(&links)) {
        Some(d) => d,
        None => return Err(vec!["the chain has no links: nothing would run".into()]),
    };
    let spec = ChainSpec {
        links,
        default,
        vars,
    };
    check_names(&spec)?;
    Ok(spec)
}

fn parse_link(i: usize, item: &Value) -> Result<Link, Vec<String>> {
    let at = |name: Option<&str>| match name {
        Some(n) => format!("link \"{n}\" (#{})", i + 1),
        None => format!("link #{}", i + 1),
    };
    let Value::Object(m) = item else {
        return Err(vec![format!(
            "{} must be a mapping with name and ref, not {}",
            at(None),
            kind(item)
        )]);
    };
    let mut errors = Vec::new();
    let name = match m.get("name") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(format!("{} has no name: give it `name:`", at(None)));
            None
        }
        Some(other) => {
            errors.push(format!(
                "{}: name must be a string, not {}",
                at(None),
                kind(other)
            ));
            None
        }
    };
    let here = at(name.as_deref());
    if i == 0 {
        for key in m.keys().filter(|k| !LINK_KEYS.contains(&k.as_str())) {
            errors.push(format!(
                "{here}: unknown key `{key}` (StackStorm's chain schema allows: {})",
                LINK_KEYS.join(", ")
            ));
        }
    }
    let ref_ = match m.get("ref") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(format!(
                "{here} has no ref: name the action it runs (`ref: pack.action`)"
            ));
            String::new()
        }
        Some(other) => {
            errors.push(format!("{here}: ref must be a string, not {}", kind(other)));
            String::new()
        }
    };
    let object = |key: &str, errors: &mut Vec<String>| -> Option<Map<String, Value>> {
        match m.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(other) => {
                errors.push(format!(
                    "{here}: {key} must be a mapping, not {}",
                    kind(other)
                ));
                None
            }
        }
    };
    let params = object("params", &mut errors);
    let parameters = object("parameters", &mut errors);
    let old_params = params.as_ref().is_some_and(|p| !p.is_empty());
    if old_params && parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        errors.push(format!(
            "{here}: Either \"params\" or \"parameters\" attribute needs to be provided, but not both"
        ));
    }
    let publish = object("publish", &mut errors).unwrap_or_default();
    for k in publish.keys().filter(|k| !is_word(k)) {
        errors.push(format!(
            "{here}: publish: `{k}` is not a valid variable name (letters, digits and _ only)"
        ));
    }
    let next = |key: &str, errors: &mut Vec<String>| -> Option<String> {
        match m.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            Some(other) => {
                errors.push(format!(
                    "{here}: {key} must be a link name, not {}",
                    kind(other)
                ));
                None
            }
        }
    };
    let on_success = next("on-success", &mut errors);
    let on_failure = next("on-failure", &mut errors);
    let notify = match m.get("notify") {
        None | Some(Value::Null) => None,
        Some(Value::Object(n)) => {
            for k in n.keys().filter(|k| !NOTIFY_KEYS.contains(&k.as_str())) {
                errors.push(format!(
                    "{here}: notify: unknown key `{k}` (allowed: {})",
                    NOTIFY_KEYS.join(", ")
                ));
            }
            Some(Value::Object(n.clone()))
        }
        Some(other) => {
            errors.push(format!(
                "{here}: notify must be a mapping, not {}",
                kind(other)
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Link {
        name: name.unwrap_or_default(),
        ref_,
        parameters: if old_params {
            params.unwrap_or_default()
        } else {
            parameters.or(params).unwrap_or_default()
        },
        old_params,
        on_success,
        on_failure,
        publish,
        notify,
    })
}

/// StackStorm's `_get_default`: the first link (in file order) that no
/// `on-success`/`on-failure` names, else the first link.
fn find_default(links: &[Link]) -> Option<String> {
    let first = links.first()?;
    let referenced = |name: &str| {
        links
            .iter()
            .any(|l| l.on_success.as_deref() == Some(name) || l.on_failure.as_deref() == Some(name))
    };
    Some(
        links
            .iter()
            .find(|l| !referenced(&l.name))
            .unwrap_or(first)
            .name
            .clone(),
    )
}

/// StackStorm's `ChainHolder.validate`: `on-success`, `on-failure` and
/// `default` name links of the chain (names holding Jinja are resolved at
/// run time and not checked).
fn check_names(spec: &ChainSpec) -> Result<(), Vec<String>> {
    let names: Vec<&str> = spec.links.iter().map(|l| l.name.as_str()).collect();
    let known = |n: &str| names.contains(&n) || stormdesk_jinja::is_jinja_expression(n);
    let mut errors = Vec::new();
    for link in &spec.links {
        for (key, target) in [
            ("on-success", &link.on_success),
            ("on-failure", &link.on_failure),
        ] {
            if let Some(t) = target.as_deref().filter(|t| !known(t)) {
                errors.push(format!(
                    "Unable to find node with name \"{t}\" referenced in \"{key}\" in task \"{}\" (the links are: {})",
                    link.name,
                    names.join(", ")
                ));
            }
        }
    }
    if !known(&spec.default) {
        errors.push(format!(
            "Unable to find node with name \"{}\" referenced in \"default\" (the links are: {})",
            spec.default,
            names.join(", ")
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_first_link_nothing_leads_to() {
        let spec = parse(
            "chain:\n  - {name: b, ref: core.noop, on-success: c}\n  - {name: a, ref: core.noop, on-success: b}\n  - {name: c, ref: core.noop}\n",
        )
        .unwrap();
        assert_eq!(spec.default, "a");
        let looped = parse(
            "chain:\n  - {name: a, ref: core.noop, on-success: b}\n  - {name: b, ref: core.noop, on-success: a}\n",
        )
        .unwrap();
        assert_eq!(looped.default, "a");
    }

    #[test]
    fn names_that_lead_nowhere_are_errors_naming_the_link() {
        let errs = parse("chain:\n  - {name: a, ref: core.noop, on-success: nope}\n").unwrap_err();
        assert!(
            errs[0].contains("\"nope\"") && errs[0].contains("task \"a\""),
            "{errs:?}"
        );
        let jinja = parse("chain:\n  - {name: a, ref: core.noop, on-success: '{{ x }}'}\n");
        assert!(jinja.is_ok());
        let errs = parse("default: z\nchain:\n  - {name: a, ref: core.noop}\n").unwrap_err();
        assert!(errs[0].contains("\"default\""), "{errs:?}");
    }

    #[test]
    fn the_schema_is_checked_on_the_first_link_only() {
        let errs = parse("chain:\n  - {name: a, ref: core.noop, description: x}\n").unwrap_err();
        assert!(errs[0].contains("unknown key `description`"), "{errs:?}");
        assert!(parse(
            "chain:\n  - {name: a, ref: core.noop, on-success: b}\n  - {name: b, ref: core.noop, description: x}\n"
        )
        .is_ok());
        let errs =
            parse("chain:\n  - {name: a, ref: core.noop, params: {x: 1}, parameters: {y: 2}}\n")
                .unwrap_err();
        assert!(errs[0].contains("not both"), "{errs:?}");
        let errs = parse("chain:\n  - {ref: core.noop}\n  - {name: b}\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[1].contains("link \"b\" (#2) has no ref"), "{errs:?}");
    }
}
