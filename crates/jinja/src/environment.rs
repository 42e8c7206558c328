//! The minijinja environment configured as StackStorm configures Jinja2
//! (`get_jinja_environment` in `st2common/util/jinja.py`): strict undefined
//! unless undefined values are allowed, `trim_blocks` and `lstrip_blocks`,
//! no autoescape, StackStorm's filters and the `in` test; plus what Jinja2
//! does through Python: values print with Python's `str()`, Python's
//! methods on strings, lists and dicts, and Jinja2's own filters where
//! minijinja's differ in output.

use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

use crate::builtins;
use crate::datastore::Datastore;
use crate::error::FunctionErrorKind;
use crate::functions::{self, CallContext, ORQUESTA_FUNCTIONS, ST2_FILTERS};
use crate::methods;
use crate::pyobjects::{KvLookup, PyTuple};
use crate::pyrepr::py_str;

/// How to build an environment.
#[derive(Clone)]
pub struct Options {
    /// Undefined values render as `""` (Jinja2's `Undefined`) instead of
    /// failing (`StrictUndefined`); StackStorm's `allow_undefined`.
    pub allow_undefined: bool,
    /// Jinja2's `trim_blocks` (StackStorm: on).
    pub trim_blocks: bool,
    /// Jinja2's `lstrip_blocks` (StackStorm: on).
    pub lstrip_blocks: bool,
    /// Also register the Orquesta functions (as global functions and as
    /// filters, as Orquesta does), including `st2kv(key, decrypt=, default=)`.
    pub orquesta: bool,
    /// The datastore behind `st2kv` and `decrypt_kv`. In parameter mode it
    /// also provides the `st2kv.system.*` / `st2kv.user.*` namespace.
    pub datastore: Option<Arc<dyn Datastore>>,
}

impl Options {
    /// StackStorm's parameter/rule/action-chain rendering environment.
    pub fn st2() -> Self {
        Options {
            allow_undefined: false,
            trim_blocks: true,
            lstrip_blocks: true,
            orquesta: false,
            datastore: None,
        }
    }

    /// Orquesta's Jinja environment (strict, trim/lstrip blocks, with the
    /// functions StackStorm registers for Orquesta).
    pub fn orquesta() -> Self {
        Options {
            orquesta: true,
            ..Options::st2()
        }
    }

    /// The same options with a datastore.
    pub fn with_datastore(mut self, store: Arc<dyn Datastore>) -> Self {
        self.datastore = Some(store);
        self
    }

    /// The same options with undefined values allowed or not.
    pub fn allow_undefined(mut self, yes: bool) -> Self {
        self.allow_undefined = yes;
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::st2()
    }
}

fn formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if value.is_undefined() && state.undefined_behavior() == UndefinedBehavior::Strict {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    out.write_str(&py_str(value))
        .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
}

/// minijinja value to JSON; undefined fails in strict mode.
pub(crate) fn to_json(state: &State, v: &Value) -> Result<serde_json::Value, Error> {
    if v.is_undefined() {
        if state.undefined_behavior() == UndefinedBehavior::Strict {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        return Ok(serde_json::Value::Null);
    }
    if let Some(kv) = v.downcast_object_ref::<KvLookup>() {
        return Ok(serde_json::Value::String(kv.text()));
    }
    serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn call_registry(
    state: &State,
    name: &str,
    value: Option<&Value>,
    args: &[Value],
    kwargs: &Kwargs,
    store: Option<&dyn Datastore>,
) -> Result<Value, Error> {
    if name == "decrypt_kv" {
        if let Some(kv) = value.and_then(|v| v.downcast_object_ref::<KvLookup>()) {
            if kv.stored().unwrap_or_default().is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "Referenced datastore item \"st2kv.{}.{}\" doesn't exist or it contains an empty string",
                        match kv.scope() {
                            crate::datastore::KvScope::System => "system",
                            crate::datastore::KvScope::User => "user",
                        },
                        kv.key()
                    ),
                ));
            }
        }
    }
    let mut json_args = Vec::with_capacity(args.len() + 1);
    if let Some(v) = value {
        json_args.push(to_json(state, v)?);
    }
    for a in args {
        json_args.push(to_json(state, a)?);
    }
    let mut json_kwargs = serde_json::Map::new();
    for k in kwargs.args() {
        let v: Value = kwargs.get(k)?;
        json_kwargs.insert(k.to_string(), to_json(state, &v)?);
    }
    let cx = CallContext { datastore: store };
    let result = functions::call(name, &json_args, &json_kwargs, &cx).unwrap_or_else(|| {
        Err(crate::error::FunctionError::new(
            name,
            FunctionErrorKind::Type,
            "no such function",
        ))
    });
    match result {
        Ok(serde_json::Value::Array(items)) if name == "regex_substring" => Ok(PyTuple::value(
            items.iter().map(Value::from_serialize).collect(),
        )),
        Ok(v) => Ok(Value::from_serialize(&v)),
        Err(e) => Err(Error::new(ErrorKind::InvalidOperation, e.to_string())),
    }
}

/// Builds the environment. Templates are added or rendered with
/// minijinja's API (`render_str`, `template_from_str`,
/// `compile_expression`); errors convert into [`crate::Error`].
pub fn environment(opts: &Options) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(if opts.allow_undefined {
        UndefinedBehavior::Lenient
    } else {
        UndefinedBehavior::Strict
    });
    env.set_trim_blocks(opts.trim_blocks);
    env.set_lstrip_blocks(opts.lstrip_blocks);
    env.set_keep_trailing_newline(false);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(formatter);
    env.set_unknown_method_callback(methods::unknown_method_callback);
    env.add_test(
        "in",
        |state: &State, item: &Value, container: &Value| -> Result<bool, Error> {
            minijinja::tests::is_in(state, item, container)
        },
    );
    minijinja_contrib::add_to_environment(&mut env);
    builtins::register(&mut env);

    // Orquesta registers exactly its function catalog as filters (no
    // `to_complex`, no `decrypt_kv`); parameters get `get_filters()`.
    let names: &[&'static str] = if opts.orquesta {
        ORQUESTA_FUNCTIONS
    } else {
        ST2_FILTERS
    };
    for &name in names {
        let store = opts.datastore.clone();
        env.add_filter(
            name,
            move |state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs| {
                call_registry(state, name, Some(&value), &args, &kwargs, store.as_deref())
            },
        );
        if opts.orquesta && ORQUESTA_FUNCTIONS.contains(&name) {
            let store = opts.datastore.clone();
            env.add_function(
                name,
                move |state: &State, args: Rest<Value>, kwargs: Kwargs| {
                    call_registry(state, name, None, &args, &kwargs, store.as_deref())
                },
            );
        }
    }
    if !opts.orquesta {
        if let Some(store) = &opts.datastore {
            env.add_global("st2kv", KvLookup::namespace(store.clone()));
        }
    }
    env
}
