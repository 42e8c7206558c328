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
    // too; extra pack directories exist only for an engine started here.
    if !args.local && ctx.packs.is_empty() {
        if let Some(client) = Client::find(&ctx.paths()?)? {
            return run_remote(&client, args, parameters);
        }
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
            client.url()
        );
    }
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
