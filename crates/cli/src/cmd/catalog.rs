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
            ActionCmd::List { json: false } => {
                let actions = engine.actions();
                // Columns as wide as their longest entry, so long refs align.
                let ref_w = actions.iter().map(|a| a.ref_.len()).max().unwrap_or(0);
                let runner_w = actions
                    .iter()
                    .map(|a| a.runner_type.len())
                    .max()
                    .unwrap_or(0);
                actions
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
                    .join("\n")
            }
            ActionCmd::Get { action } => serde_json::to_string_pretty(&engine.action(&action)?)?,
        };
        println!("{out}");
        engine.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}
