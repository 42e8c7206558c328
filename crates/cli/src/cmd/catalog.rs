//! `stormdesk action list|get`: what the running engine has loaded (or,
//! with none running or with `--packs`, what this command loads).

use std::process::ExitCode;

use clap::Subcommand;
use stormdesk_engine::{ActionDetail, ActionSummary};

use super::Ctx;

#[derive(Subcommand)]
pub enum ActionCmd {
    /// List every action of every loaded pack.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show an action with its parameter schema.
    Get { action: String },
}

pub fn action(ctx: &Ctx, cmd: ActionCmd) -> anyhow::Result<ExitCode> {
    let out = match ctx.running_engine()? {
        Some(client) => match cmd {
            ActionCmd::List { json } => {
                render_list(&client.get_json::<Vec<ActionSummary>>("/v1/actions")?, json)?
            }
            ActionCmd::Get { action } => serde_json::to_string_pretty(
                &client
                    .get_json::<ActionDetail>(&format!("/v1/actions/views/overview/{action}"))?,
            )?,
        },
        None => ctx.runtime()?.block_on(async {
            let engine = ctx.engine().await?;
            let out = match cmd {
                ActionCmd::List { json } => render_list(&engine.actions(), json),
                ActionCmd::Get { action } => engine
                    .action(&action)
                    .map_err(anyhow::Error::from)
                    .and_then(|a| Ok(serde_json::to_string_pretty(&a)?)),
            };
            engine.shutdown();
            out
        })?,
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn render_list(actions: &[ActionSummary], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(actions)?);
    }
    // Columns as wide as their longest entry, so long refs align.
    let ref_w = actions.iter().map(|a| a.ref_.len()).max().unwrap_or(0);
    let runner_w = actions
        .iter()
        .map(|a| a.runner_type.len())
        .max()
        .unwrap_or(0);
    Ok(actions
        .iter()
        .map(|a| {
            let note = a
                .unsupported_reason
                .as_deref()
                .map(|r| format!("  [unsupported: {r}]"))
                .unwrap_or_default();
            let line = format!(
                "{:<ref_w$}  {:<runner_w$}  {}{note}",
                a.ref_,
                a.runner_type,
                a.description.as_deref().unwrap_or("")
            );
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n"))
}
