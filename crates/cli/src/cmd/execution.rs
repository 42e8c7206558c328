//! `stormdesk execution get|list|tail|cancel|pause|resume|re-run`: the
//! verbs of StackStorm's `st2 execution`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use stormdesk_engine::store::{ReadOnlyStore, Store};
use stormdesk_engine::{Execution, ExecutionFilter, ExecutionOutput, Status};

use super::Ctx;
use crate::client::Client;
use crate::print;
use crate::tree_tail::TreeTail;

#[derive(Subcommand)]
pub enum ExecutionCmd {
    /// Show one execution (`last`: the newest top-level run).
    Get {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List recent executions, newest first.
    List(ListArgs),
    /// Follow an execution's output live until it completes (`last` = the newest).
    Tail {
        id: String,
        /// Only this stream.
        #[arg(long = "type", value_parser = ["stdout", "stderr"])]
        stream: Option<String>,
    },
    /// Cancel running executions (a workflow cancels its tasks too).
    Cancel {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Pause running workflows (and their running child workflows).
    Pause {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Resume paused workflows.
    Resume {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Run an execution's action again: its parameters, with `name=value` overrides.
    #[command(name = "re-run")]
    ReRun(ReRunArgs),
}

#[derive(Args)]
pub struct ReRunArgs {
    /// The execution to re-run; `last` is the newest top-level run.
    id: String,
    /// Parameter overrides as `name=value`.
    parameters: Vec<String>,
    /// Workflow tasks to re-run from (StackStorm's `--tasks`).
    #[arg(long, num_args = 1..)]
    tasks: Vec<String>,
    /// With-items tasks among `--tasks` whose finished items are kept.
    #[arg(long = "no-reset", num_args = 1..)]
    no_reset: Vec<String>,
    /// Run the pack at this revision instead of the original's.
    #[arg(long = "content-version", value_name = "REV")]
    content_version: Option<String>,
    /// Return once the execution is scheduled.
    #[arg(long, short = 'a')]
    r#async: bool,
    /// Print the execution record as JSON and nothing else on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    pack: Option<String>,
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: u32,
    /// Workflow and chain tasks too, not only top-level runs (as `st2
    /// execution list --showall`; without it the list asks for `parent=null`).
    #[arg(long)]
    showall: bool,
    /// Only the direct children of this execution.
    #[arg(long, conflicts_with = "showall")]
    parent: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, cmd: ExecutionCmd) -> anyhow::Result<ExitCode> {
    let paths = ctx.paths()?;
    match cmd {
        ExecutionCmd::Get { id, json } => {
            let store = Store::open_read_only(&paths.db())?;
            let id = resolve_last(&store, &id)?;
            let e = store.execution(&id)?.ok_or_else(|| {
                anyhow!("execution '{id}' not found: list them with `stormdesk execution list`")
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                print!("{}", print::execution_summary(&e));
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionCmd::List(args) => {
            let status = args
                .status
                .as_deref()
                .map(|s| Status::parse(s).ok_or_else(|| anyhow!("unknown status '{s}'")))
                .transpose()?;
            let store = Store::open_read_only(&paths.db())?;
            let list = store.executions(&ExecutionFilter {
                status,
                action: args.action,
                pack: args.pack,
                limit: Some(args.limit),
                roots_only: !args.showall && args.parent.is_none(),
                parent: args.parent,
                ..Default::default()
            })?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &list {
                    println!("{}", print::execution_row(e));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionCmd::Tail { id, stream } => tail(ctx, &id, stream.as_deref()),
        ExecutionCmd::Cancel { ids } => control(ctx, &ids, Verb::Cancel),
        ExecutionCmd::Pause { ids } => control(ctx, &ids, Verb::Pause),
        ExecutionCmd::Resume { ids } => control(ctx, &ids, Verb::Resume),
        ExecutionCmd::ReRun(args) => re_run(ctx, args),
    }
}

#[derive(Clone, Copy)]
enum Verb {
    Cancel,
    Pause,
    Resume,
}

/// Executions are controlled by the engine that runs them, so these go to
/// the running engine (`stormdesk serve`, the desktop app, a `stormdesk run`).
fn control(ctx: &Ctx, ids: &[String], verb: Verb) -> anyhow::Result<ExitCode> {
    let Some(client) = Client::find(&ctx.paths()?)? else {
        bail!("no engine is running, so nothing is running to control; start one with `stormdesk serve`");
    };
    let mut code = ExitCode::SUCCESS;
    for id in ids {
        let outcome = match verb {
            Verb::Cancel => client.cancel(id).map(|v| match v.get("faultstring") {
                Some(Value::String(m)) => Err(m.clone()),
                // The status it has now: `canceling` until the action is
                // gone, `canceled` at once when nothing ran any more.
                _ => Ok(format!(
                    "execution {id} {}",
                    v.get("status")
                        .and_then(Value::as_str)
                        .unwrap_or("canceling")
                )),
            }),
            Verb::Pause => client
                .set_status(id, "pausing")
                .map(|e| Ok(format!("execution {id} {}", e.status))),
            Verb::Resume => client
                .set_status(id, "resuming")
                .map(|e| Ok(format!("execution {id} {}", e.status))),
        };
        match outcome {
            Ok(Ok(line)) => println!("{line}"),
            Ok(Err(message)) => {
                eprintln!("execution {id}: {message}");
                code = ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                code = ExitCode::from(1);
            }
        }
    }
    Ok(code)
}

fn re_run(ctx: &Ctx, mut args: ReRunArgs) -> anyhow::Result<ExitCode> {
    if args.id == "last" {
        let store = Store::open_read_only(&ctx.paths()?.db())?;
        args.id = resolve_last(&store, &args.id)?;
    }
    let parameters = super::run::parse_parameters(&args.parameters)?;
    if let Some(extra) = args.no_reset.iter().find(|t| !args.tasks.contains(t)) {
        bail!("--no-reset names task '{extra}', which is not among --tasks");
    }
    let reset: Vec<String> = args
        .tasks
        .iter()
        .filter(|t| !args.no_reset.contains(t))
        .cloned()
        .collect();
    if let Some(client) = Client::find(&ctx.paths()?)? {
        let events = client.events(None)?;
        let mut body = serde_json::json!({
            "parameters": parameters,
            "tasks": args.tasks,
            "reset": reset,
        });
        if let Some(rev) = &args.content_version {
            body["content_version"] = Value::String(rev.clone());
        }
        let execution = client.re_run(&args.id, body)?;
        return super::run::follow_remote(&client, events, execution, args.r#async, args.json);
    }
    if args.r#async {
        anyhow::bail!(
            "--async needs a running engine to own the re-run of {}: an engine started by this command \
             would stop when it returns, leaving the execution without an owner; start `stormdesk serve` \
             first (it keeps running), or re-run without --async",
            args.id
        );
    }
    ctx.runtime()?.block_on(async {
        let engine = ctx.engine().await?;
        let events = engine.subscribe();
        let started = engine
            .re_run_as(
                &args.id,
                stormdesk_engine::ReRun {
                    parameters,
                    content_version: args.content_version.clone(),
                    tasks: args.tasks.clone(),
                    reset,
                    user: None,
                },
            )
            .await;
        let execution = match started {
            Ok(e) => e,
            Err(e) => {
                engine.shutdown();
                return Err(anyhow::Error::new(e));
            }
        };
        super::run::follow_local(&engine, events, execution, args.r#async, args.json).await
    })
}

/// `last`: the newest top-level run's id; any other id as it is.
fn resolve_last(store: &ReadOnlyStore, id: &str) -> anyhow::Result<String> {
    if id != "last" {
        return Ok(id.to_string());
    }
    store
        .executions(&ExecutionFilter {
            roots_only: true,
            limit: Some(1),
            ..Default::default()
        })?
        .into_iter()
        .next()
        .map(|e| e.id)
        .ok_or_else(|| anyhow!("no executions yet"))
}

fn tail(ctx: &Ctx, id: &str, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let paths = ctx.paths()?;
    let store = Store::open_read_only(&paths.db())?;
    let id = resolve_last(&store, id)?;
    let show = |c: &ExecutionOutput| {
        if only.map(|s| s == c.output_type).unwrap_or(true) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(c.data.as_bytes());
            let _ = out.flush();
        }
    };
    let execution = store.execution(&id)?.ok_or_else(|| {
        anyhow!("execution '{id}' not found: list them with `stormdesk execution list`")
    })?;
    let workflow = execution.runner_name() == stormdesk_engine::workflow::WORKFLOW_RUNNER;
    let Some(client) = Client::find(&paths)? else {
        if !execution.status.is_completed() {
            bail!("execution {id} is {} but no engine is running to follow it; start one with `stormdesk serve`", execution.status);
        }
        if workflow {
            stored_tree(&store, &execution, only)?;
        } else {
            store
                .output(&id, None)?
                .iter()
                .map(|c| ExecutionOutput::new(&execution, c))
                .for_each(|c| show(&c));
        }
        return Ok(super::run::exit_code(execution.status));
    };
    let done = if workflow {
        client.follow_tree(&id, only)?
    } else {
        client.follow(&id, None, show)?
    };
    eprintln!("{} {}", done.id, done.status);
    Ok(super::run::exit_code(done.status))
}

/// A completed workflow's tree from the store, as `tail` would have shown it live.
fn stored_tree(store: &ReadOnlyStore, root: &Execution, only: Option<&str>) -> anyhow::Result<()> {
    let mut tail = TreeTail::new(root, only);
    let mut queue = std::collections::VecDeque::from([root.id.clone()]);
    while let Some(parent) = queue.pop_front() {
        let mut children = store.executions(&ExecutionFilter {
            parent: Some(parent),
            limit: Some(u32::MAX),
            ..Default::default()
        })?;
        children.reverse();
        for child in children {
            tail.execution(&Execution {
                status: stormdesk_engine::Status::Running,
                ..child.clone()
            });
            for c in store.output(&child.id, None)? {
                tail.output(&child.id, &ExecutionOutput::new(&child, &c));
            }
            tail.execution(&child);
            queue.push_back(child.id);
        }
    }
    Ok(())
}
