//! `stormdesk execution get|list|tail`

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use stormdesk_engine::reconcile::live_listener;
use stormdesk_engine::store::Store;
use stormdesk_engine::{Execution, ExecutionFilter, OutputChunk, Status};

use super::Ctx;
use crate::print;

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
            let e = store
                .execution(&id)?
                .ok_or_else(|| anyhow!("execution '{id}' not found: list them with `stormdesk execution list`"))?;
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
    let show = |c: &OutputChunk| {
        if only.map(|s| s == c.stream.as_str()).unwrap_or(true) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(c.data.as_bytes());
            let _ = out.flush();
        }
    };
    let execution = store
        .execution(&id)?
        .ok_or_else(|| anyhow!("execution '{id}' not found"))?;
    let Some(listener) = live_listener(&paths) else {
        if !execution.status.is_completed() {
            bail!("execution {id} is {} but no engine is running to follow it; start one with `stormdesk serve`", execution.status);
        }
        store.output(&id, None)?.iter().for_each(show);
        return Ok(super::run::exit_code(execution.status));
    };
    let token = std::fs::read_to_string(paths.token_file())
        .with_context(|| format!("reading the API token {}", paths.token_file().display()))?;
    let auth = format!("Bearer {}", token.trim());
    // Subscribe first, then read what is stored, so nothing falls between the two.
    let sse = ureq::get(&format!("{}/v1/stream?execution={id}", listener.url))
        .set("Authorization", &auth)
        .call()
        .with_context(|| format!("connecting to the engine at {}", listener.url))?;
    let mut last_seq: Option<u64> = None;
    for c in store.output(&id, None)? {
        show(&c);
        last_seq = Some(c.seq);
    }
    if let Some(e) = store.execution(&id)? {
        if e.status.is_completed() {
            return Ok(super::run::exit_code(e.status));
        }
    }
    let reader = BufReader::new(sse.into_reader());
    let mut data = String::new();
    for line in reader.lines() {
        let line = line.context("reading the event stream")?;
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
            continue;
        }
        if !line.is_empty() || data.is_empty() {
            continue;
        }
        let ev: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        data.clear();
        match ev.get("type").and_then(|t| t.as_str()) {
            Some("output") => {
                let chunk: OutputChunk = serde_json::from_value(ev["chunk"].clone())?;
                if last_seq.map(|l| chunk.seq > l).unwrap_or(true) {
                    show(&chunk);
                    last_seq = Some(chunk.seq);
                }
            }
            Some("execution") => {
                let e: Execution = serde_json::from_value(ev["execution"].clone())?;
                if e.status.is_completed() {
                    eprintln!("{} {}", e.id, e.status);
                    return Ok(super::run::exit_code(e.status));
                }
            }
            _ => {}
        }
    }
    bail!("the engine closed the event stream before execution {id} completed")
}
