//! `stormdesk action list|get`

use std::process::ExitCode;

use clap::Subcommand;

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
    ctx.runtime()?.block_on(async {
        let engine = ctx.engine().await?;
        let out = match cmd {
            ActionCmd::List { json: true } => serde_json::to_string_pretty(&engine.actions())?,
            ActionCmd::List { json: false } => engine
                .actions()
                .iter()
                .map(|a| {
                    let note = a
                        .unsupported_reason
                        .as_deref()
                        .map(|r| format!("  [unsupported: {r}]"))
                        .unwrap_or_default();
                    format!(
                        "{:<32} {:<20} {}{note}",
                        a.ref_,
                        a.runner_type,
                        a.description.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            ActionCmd::Get { action } => serde_json::to_string_pretty(&engine.action(&action)?)?,
        };
        println!("{out}");
        engine.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}
