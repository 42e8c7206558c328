//! `stormdesk run <pack.action> [name=value ...]`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{Map, Value};
use stormdesk_engine::{Event, RunRequest, Status};

use super::Ctx;
use crate::client::Client;
use crate::print;

#[derive(Args)]
pub struct RunArgs {
    /// The action, as `pack.action`.
    pub action: String,
    /// Parameters as `name=value`; values are converted to the parameter's type.
    pub parameters: Vec<String>,
    /// Print the execution record as JSON and nothing else on stdout.
    #[arg(long)]
    pub json: bool,
    /// Run the pack at this git revision (tag, branch or commit).
    #[arg(long = "content-version", value_name = "REV")]
    pub content_version: Option<String>,
    /// Return once the execution is scheduled instead of waiting for it.
    #[arg(long)]
    pub r#async: bool,
    /// Run in this process even when an engine (`stormdesk serve`, the app) is running.
    #[arg(long)]
    pub local: bool,
}

pub fn parse_parameters(raw: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            bail!("parameter '{item}' must be written name=value");
        };
        if name.is_empty() {
            bail!("parameter '{item}' has no name before '='");
        }
        out.insert(name.to_string(), Value::String(value.to_string()));
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<ExitCode> {
    let parameters = parse_parameters(&args.parameters)?;
    // A running engine owns the executions, so `tail` and the UI see this one
    // too. With `--packs` the run stays here (those directories exist only
    // for an engine started here), except `--async`, which needs an owner
    // that outlives this command: the running engine, with the same packs.
    let running = if args.local {
        None
    } else {
        Client::find(&ctx.paths()?)?
    };
    match running {
        Some(client) if ctx.packs.is_empty() => return run_remote(&client, args, parameters),
        Some(client) if args.r#async => {
            same_action_there(ctx, &client, &args.action)?;
            return run_remote(&client, args, parameters);
        }
        None if args.r#async => bail!(
            "--async needs a running engine to own {}: an engine started by this command would stop when it returns, \
             leaving the execution without an owner; start `stormdesk serve`{} first (it keeps running), or run without --async",
            args.action,
            packs_flags(ctx)
        ),
        _ => {}
    }
    ctx.runtime()?.block_on(async {
        let engine = ctx.engine().await?;
        let events = engine.subscribe();
        let execution = match engine
            .run(RunRequest {
                content_version: args.content_version.clone(),
                ..RunRequest::new(args.action.clone(), parameters)
            })
            .await
        {
            Ok(e) => e,
            Err(e) => {
                engine.shutdown();
                return Err(anyhow::Error::new(e));
            }
        };
        follow_local(&engine, events, execution, args.r#async, args.json).await
    })
}

/// ` --packs DIR` for each directory given, for messages.
fn packs_flags(ctx: &Ctx) -> String {
    ctx.packs
        .iter()
        .map(|p| format!(" --packs {}", p.display()))
        .collect()
}

/// Refuses to hand `action` to the running engine unless it runs the same
/// action: known there, and from the same pack directory as `--packs` here
/// would load it.
fn same_action_there(ctx: &Ctx, client: &Client, action: &str) -> anyhow::Result<()> {
    let engine = client.shown_url();
    let start = || {
        format!(
            "start the engine with them (`stormdesk serve{}`), or run without --async to run it here",
            packs_flags(ctx)
        )
    };
    if client
        .get_optional(&format!("/v1/actions/{action}"))?
        .is_none()
    {
        // Known in the --packs given here: the engine was started without
        // them. Known nowhere: the action does not exist.
        if ctx.packs.is_empty()
            || stormdesk_engine::catalog::Catalog::load(&ctx.packs)
                .action(action)
                .is_err()
        {
            bail!(
                "action '{action}' not found in the running engine at {engine}{}: list actions with `stormdesk action list`",
                if ctx.packs.is_empty() { "" } else { " nor in --packs" }
            );
        }
        bail!(
            "the running engine at {engine} does not know action {action}, which --packs here has (the engine was not started with them); {}",
            start()
        );
    }
    let Some((pack, _)) = action.split_once('.') else {
        return Ok(());
    };
    let here = stormdesk_engine::catalog::Catalog::load(&ctx.packs)
        .packs
        .into_iter()
        .find(|p| p.name == pack)
        .map(|p| p.dir);
    let there = client
        .get_optional(&format!("/v1/packs/{pack}"))?
        .and_then(|p| p["path"].as_str().map(std::path::PathBuf::from));
    if let (Some(here), Some(there)) = (here, there) {
        let same = match (here.canonicalize(), there.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => here == there,
        };
        if !same {
            bail!(
                "the running engine at {engine} runs action {action} from {}, not from {} as given with --packs; {}",
                there.display(),
                here.display(),
                start()
            );
        }
    }
    Ok(())
}

/// Shows an execution started by this process's `engine` (its output, or
/// its workflow tree) until it completes, then stops the engine. `events`
/// was subscribed before the execution started.
pub async fn follow_local(
    engine: &stormdesk_engine::Engine,
    mut events: tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
    execution: stormdesk_engine::Execution,
    r#async: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if r#async {
        print_final(&execution, json)?;
        engine.shutdown();
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        eprintln!(
            "execution {} of {} started",
            execution.id,
            execution.action_ref()
        );
    }
    let id = execution.id.clone();
    // A workflow shows every task's output, prefixed by its task path.
    let mut tree = (execution.runner_name() == stormdesk_engine::workflow::WORKFLOW_RUNNER
        && !json)
        .then(|| crate::tree_tail::TreeTail::new(&execution, None));
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut interrupted = false;
    let final_execution = loop {
        tokio::select! {
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                eprintln!("interrupted: canceling {id}");
                let _ = engine.cancel(&id).await;
            }
            ev = events.recv() => match ev {
                Ok(ev) => match ev.event {
                    Event::Output { output } if output.execution_id == id && !json => {
                        print_chunk(&output.output_type, &output.data);
                    }
                    Event::Execution { execution, .. } if execution.id == id && execution.status.is_completed() => {
                        break *execution;
                    }
                    Event::Execution { execution, .. } => {
                        if let Some(tree) = tree.as_mut() {
                            tree.execution(&execution);
                        }
                    }
                    Event::Output { output } => {
                        if let Some(tree) = tree.as_mut().filter(|t| t.knows(&output.execution_id)) {
                            tree.output(&output.execution_id, &output);
                        }
                    }
                    Event::Announcement { .. } => {}
                },
                Err(_) => break engine.wait(&id).await.context("waiting for the execution")?,
            }
        }
    };
    print_final(&final_execution, json)?;
    // The runner's last report is acknowledged; let it exit before the
    // listener goes, so it has nothing to spool.
    engine
        .wait_for_runners(std::time::Duration::from_secs(5))
        .await;
    engine.shutdown();
    Ok(exit_code(final_execution.status))
}

fn run_remote(
    client: &Client,
    args: RunArgs,
    parameters: Map<String, Value>,
) -> anyhow::Result<ExitCode> {
    // Subscribed before the run starts, so no output is missed.
    let events = client.events(None)?;
    let execution = client.run(&RunRequest {
        content_version: args.content_version.clone(),
        ..RunRequest::new(args.action.clone(), parameters)
    })?;
    follow_remote(client, events, execution, args.r#async, args.json)
}

/// Shows an execution started on `client`'s engine until it completes.
/// `events` was opened before it started.
pub fn follow_remote(
    client: &Client,
    events: crate::client::Events,
    execution: stormdesk_engine::Execution,
    r#async: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if r#async {
        print_final(&execution, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        eprintln!(
            "execution {} of {} started on {}",
            execution.id,
            execution.action_ref(),
            client.shown_url()
        );
    }
    cancel_on_interrupt(client, &execution.id);
    let done = if execution.runner_name() == stormdesk_engine::workflow::WORKFLOW_RUNNER && !json {
        drop(events);
        client.follow_tree(&execution.id, None)?
    } else {
        client.follow(&execution.id, Some(events), |c| {
            if !json {
                print_chunk(&c.output_type, &c.data)
            }
        })?
    };
    print_final(&done, json)?;
    Ok(exit_code(done.status))
}

/// Ctrl-C cancels the execution on the engine that runs it (the follow then
/// sees it end); a second Ctrl-C leaves at once, the execution canceling.
fn cancel_on_interrupt(client: &Client, id: &str) {
    let (client, id) = (client.clone(), id.to_string());
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!("interrupted: canceling {id}");
            if let Err(e) = client.cancel(&id) {
                eprintln!("error: {e:#}");
            }
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        });
    });
}

/// Writes output to stdout, or to stderr for `output_type` `stderr`.
pub fn print_chunk(output_type: &str, data: &str) {
    // Output is shown as it arrives; a failed write (closed pipe) is not an error of the run.
    match output_type {
        "stderr" => {
            let _ = std::io::stderr().write_all(data.as_bytes());
        }
        _ => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(data.as_bytes());
            let _ = out.flush();
        }
    }
}

pub fn print_final(execution: &stormdesk_engine::Execution, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(execution)?);
    } else {
        print!("{}", print::execution_summary(execution));
    }
    Ok(())
}

/// 0 when the execution succeeded, 1 otherwise.
pub fn exit_code(status: Status) -> ExitCode {
    if status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
