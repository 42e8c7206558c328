//! `stormdesk execution get|list|tail`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use stormdesk_engine::store::{ReadOnlyStore, Store};
use stormdesk_engine::{Execution, ExecutionFilter, ExecutionOutput, Status};

use super::Ctx;
use crate::client::Client;
use crate::print;
use crate::tree_tail::TreeTail;

#[derive(Subcommand)]
pub enum ExecutionCmd {
    /// Show one execution.
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
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, cmd: ExecutionCmd) -> anyhow::Result<ExitCode> {
    let paths = ctx.paths()?;
    match cmd {
        ExecutionCmd::Get { id, json } => {
            let store = Store::open_read_only(&paths.db())?;
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
    }
}

fn tail(ctx: &Ctx, id: &str, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let paths = ctx.paths()?;
    let store = Store::open_read_only(&paths.db())?;
    let id = if id == "last" {
        store
            .executions(&ExecutionFilter {
                roots_only: true,
                limit: Some(1),
                ..Default::default()
            })?
            .into_iter()
            .next()
            .map(|e| e.id)
            .ok_or_else(|| anyhow!("no executions yet"))?
    } else {
        id.to_string()
    };
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
