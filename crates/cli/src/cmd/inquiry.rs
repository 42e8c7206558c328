//! `stormdesk inquiry list|get|respond`: Inquiries (`core.ask`), as
//! StackStorm's `st2 inquiry`. Listing and showing read the running engine,
//! or the store when none runs; answering goes to the running engine, which
//! resumes the workflow that asked.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use serde_json::{Map, Value};
use stormdesk_engine::inquiry::{Inquiry, INQUIRY_RUNNER};
use stormdesk_engine::store::Store;
use stormdesk_engine::{ExecutionFilter, Status};

use super::Ctx;
use crate::client::Client;

#[derive(Subcommand)]
pub enum InquiryCmd {
    /// List open Inquiries, newest first.
    List {
        #[arg(long, short = 'n', default_value_t = 50)]
        limit: u32,
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Show one open Inquiry: who may answer and the schema of the answer.
    Get {
        id: String,
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Answer an Inquiry: `-r '{"approved": true}'`, or `name=value` per
    /// property (converted to the schema's types), or asked property by
    /// property when run in a terminal.
    Respond {
        id: String,
        /// The whole answer as JSON (st2's `--response`).
        #[arg(long, short = 'r')]
        response: Option<String>,
        /// Properties as `name=value`.
        values: Vec<String>,
    },
}

pub fn run(ctx: &Ctx, cmd: InquiryCmd) -> anyhow::Result<ExitCode> {
    let client = Client::find(&ctx.paths()?)?;
    match cmd {
        InquiryCmd::List { limit, json } => {
            let list = match &client {
                Some(c) => c.inquiries(limit)?,
                None => from_store(ctx, limit)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no open inquiries");
            } else {
                for i in &list {
                    println!("{}", row(i));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        InquiryCmd::Get { id, json } => {
            let inquiry = match &client {
                Some(c) => c.inquiry(&id)?,
                None => from_store(ctx, u32::MAX)?
                    .into_iter()
                    .find(|i| i.id == id)
                    .ok_or_else(|| anyhow!("inquiry '{id}' is not open (or does not exist): list open inquiries with `stormdesk inquiry list`"))?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&inquiry)?);
            } else {
                print!("{}", describe(&inquiry));
            }
            Ok(ExitCode::SUCCESS)
        }
        InquiryCmd::Respond {
            id,
            response,
            values,
        } => {
            let Some(client) = client else {
                bail!("no engine is running, so nothing waits for this answer; start one with `stormdesk serve` (the workflow that asked resumes there)");
            };
            let inquiry = client.inquiry(&id)?;
            let answer = match response {
                Some(text) => serde_json::from_str(&text)
                    .with_context(|| format!("--response is not JSON: {text}"))?,
                None if !values.is_empty() => from_pairs(&inquiry.schema, &values)?,
                None if std::io::stdin().is_terminal() => ask(&inquiry.schema)?,
                None => bail!(
                    "give the answer with -r '{{...}}' or as name=value (the schema asks for: {})",
                    properties(&inquiry.schema).join(", ")
                ),
            };
            let accepted = client.respond(&id, answer)?;
            println!("Response accepted for inquiry {id}.");
            println!("{}", serde_json::to_string_pretty(&accepted["response"])?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn from_store(ctx: &Ctx, limit: u32) -> anyhow::Result<Vec<Inquiry>> {
    let store = Store::open_read_only(&ctx.paths()?.db())?;
    let list = store.executions(&ExecutionFilter {
        status: Some(Status::Pending),
        limit: Some(u32::MAX),
        ..Default::default()
    })?;
    Ok(list
        .iter()
        .filter(|e| e.runner_name() == INQUIRY_RUNNER)
        .take(limit as usize)
        .map(Inquiry::from_execution)
        .collect())
}

fn properties(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn row(i: &Inquiry) -> String {
    let who = if i.users.is_empty() {
        "anyone".to_string()
    } else {
        i.users.join(",")
    };
    format!(
        "{}  route={}  ttl={}m  answer: {}  by: {who}",
        i.id,
        if i.route.is_empty() { "-" } else { &i.route },
        i.ttl,
        properties(&i.schema).join(", ")
    )
}

fn describe(i: &Inquiry) -> String {
    let mut out = format!(
        "inquiry {}\n  route: {}\n  ttl: {} minutes\n  users: {}\n  roles: {}\n  answer:\n",
        i.id,
        i.route,
        i.ttl,
        if i.users.is_empty() {
            "anyone".into()
        } else {
            i.users.join(", ")
        },
        if i.roles.is_empty() {
            "-".into()
        } else {
            i.roles.join(", ")
        },
    );
    if let Some(props) = i.schema.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let kind = p
                .get("type")
                .map(Value::to_string)
                .unwrap_or_else(|| "any".into());
            let required = if p.get("required").is_some_and(|r| r == &Value::Bool(true)) {
                " (required)"
            } else {
                ""
            };
            let about = p.get("description").and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!("    {name}: {kind}{required}  {about}\n"));
        }
    }
    out
}

/// A property's value from text, as its schema type says.
fn convert(schema: &Value, name: &str, text: &str) -> anyhow::Result<Value> {
    let kind = schema
        .get("properties")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("string");
    let bad = |what: &str| anyhow!("{name}={text}: not {what}");
    Ok(match kind {
        "boolean" => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Value::Bool(true),
            "false" | "no" | "n" | "0" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        "integer" => Value::from(text.parse::<i64>().map_err(|_| bad("a whole number"))?),
        "number" => serde_json::Number::from_f64(text.parse::<f64>().map_err(|_| bad("a number"))?)
            .map(Value::Number)
            .ok_or_else(|| bad("a finite number"))?,
        "array" | "object" => serde_json::from_str(text).map_err(|_| bad("JSON"))?,
        _ => Value::String(text.to_string()),
    })
}

fn from_pairs(schema: &Value, pairs: &[String]) -> anyhow::Result<Value> {
    let mut answer = Map::new();
    for pair in pairs {
        let (name, text) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("'{pair}' is not name=value"))?;
        answer.insert(name.to_string(), convert(schema, name, text)?);
    }
    Ok(Value::Object(answer))
}

/// Asks each property in the terminal (an empty line leaves it out).
fn ask(schema: &Value) -> anyhow::Result<Value> {
    let mut answer = Map::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for name in properties(schema) {
        let p = &schema["properties"][&name];
        let about = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or(&name);
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("string");
        print!("{about} [{name}: {kind}]: ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next().transpose()? else {
            break;
        };
        let line = line.trim();
        if !line.is_empty() {
            answer.insert(name.clone(), convert(schema, &name, line)?);
        }
    }
    Ok(Value::Object(answer))
}
