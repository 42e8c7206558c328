//! StackStorm's expression functions in YAQL (`regex_match`,
//! `to_json_string`, `version_compare`, `jsonpath_query`, ...): StackStorm
//! registers them as Orquesta functions, so `<% regex_match(ctx().x, 'a.*') %>`
//! works in StackStorm's workflows. They run through `stormdesk-jinja`'s
//! registry, the same code the Jinja filters use. `st2kv` is in
//! [`super::orquesta`] (it needs the workflow's datastore).

use std::rc::Rc;

use serde_json::{Map, Value};
use stormdesk_jinja::{CallContext, FunctionErrorKind};

use super::{Kind::*, Ov, Ty::*};
use crate::expr::yaql::convert::{from_owned, to_json};
use crate::expr::yaql::error::{Error, R};
use crate::expr::yaql::interp::{Args, Interp};
use crate::expr::yaql::value::V;

const fn st2(name: &'static str) -> Ov {
    Ov {
        name,
        kind: F,
        params: &[],
        var: Some(Any),
        kw: Some(Any),
        no_kwargs: false,
        f: call,
    }
}

/// The overloads of this module: every StackStorm function Orquesta gets,
/// but `st2kv`.
pub static OVERLOADS: &[Ov] = &[
    st2("basename"),
    st2("dirname"),
    st2("from_json_string"),
    st2("from_yaml_string"),
    st2("json_dump"),
    st2("json_parse"),
    st2("json_escape"),
    st2("jsonpath_query"),
    st2("regex_match"),
    st2("regex_replace"),
    st2("regex_search"),
    st2("regex_substring"),
    st2("to_human_time_from_seconds"),
    st2("to_json_string"),
    st2("to_yaml_string"),
    st2("use_none"),
    st2("version_compare"),
    st2("version_more_than"),
    st2("version_less_than"),
    st2("version_equal"),
    st2("version_match"),
    st2("version_bump_major"),
    st2("version_bump_minor"),
    st2("version_bump_patch"),
    st2("version_strip_patch"),
    st2("yaml_dump"),
    st2("yaml_parse"),
];

fn call<'a>(_it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let name = a.name;
    let args = a
        .rest_values()
        .iter()
        .map(to_json)
        .collect::<R<Vec<Value>>>()?;
    let mut kwargs = Map::new();
    for (k, v) in &a.kw {
        kwargs.insert(Rc::clone(k).to_string(), to_json(v)?);
    }
    let cx = CallContext { datastore: None };
    match stormdesk_jinja::call(name, &args, &kwargs, &cx) {
        Some(Ok(v)) => from_owned(v),
        Some(Err(e)) => Err(Error::new(
            match e.kind {
                FunctionErrorKind::Type => "TypeError",
                FunctionErrorKind::Value => "ValueError",
                FunctionErrorKind::Index => "IndexError",
                FunctionErrorKind::Datastore => "ExpressionEvaluationException",
            },
            e.message,
        )),
        None => Err(Error::new(
            "NoFunctionRegisteredException",
            format!("Unknown function \"{name}\""),
        )),
    }
}
