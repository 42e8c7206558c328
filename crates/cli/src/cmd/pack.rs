//! `stormdesk pack list|install|update|revisions|setup-venv`

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use stormdesk_engine::git::{self, Progress, Revisions};
use stormdesk_engine::pack_register::RegisterRequest;
use stormdesk_engine::pyenv::{EnvEvent, PyEnvOptions, PyEnvs};

use super::Ctx;
use crate::client::Client;

#[derive(Subcommand)]
pub enum PackCmd {
    /// List loaded packs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Install a pack from a git URL or a local git repository into `<data>/packs/<pack>`.
    Install {
        /// A git URL (https://, ssh://, file://) or a path to a local repository.
        source: String,
        /// Tag, branch or commit to check out (default: the repository's default branch).
        #[arg(long = "ref", value_name = "REV")]
        rev: Option<String>,
        /// Replace an installed pack of the same name.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove installed packs, as `st2 pack remove` does: their directory in
    /// `<data>/packs`, worktrees and Python environments. StackStorm's system
    /// packs and packs Stormdesk did not install are refused.
    Remove {
        #[arg(value_name = "PACK", required = true)]
        pack_refs: Vec<String>,
    },
    /// Load the packs again, as `st2 pack register` does: the running engine
    /// (if any) picks up new and changed actions at once. Without a running
    /// engine, the packs are loaded here and checked.
    Register {
        /// Packs to count and check (default: all).
        #[arg(value_name = "PACK")]
        pack_refs: Vec<String>,
        /// Content types (action, config, rule, sensor, ...; default: all).
        #[arg(long, num_args = 1..)]
        types: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Fetch new revisions from the pack's origin and fast-forward its branch.
    Update {
        pack: String,
        #[arg(long)]
        json: bool,
    },
    /// List a pack's tags (newest version first), branches and recent commits.
    Revisions {
        pack: String,
        #[arg(long)]
        json: bool,
    },
    /// Make the pack's Python environment anew from its requirements.txt
    /// (as StackStorm's packs.setup_virtualenv), at a revision if given.
    SetupVenv {
        pack: String,
        /// Tag, branch or commit whose requirements.txt to use (default: as checked out).
        #[arg(long = "content-version", value_name = "REV")]
        content_version: Option<String>,
        /// Keep an environment that already exists for these requirements
        /// (StackStorm's `update`); by default it is made anew.
        #[arg(long)]
        update: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: PackCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PackCmd::List { json } => list(ctx, json),
        PackCmd::Install {
            source,
            rev,
            force,
            json,
        } => {
            let packs = ctx.paths()?.packs();
            let installed = git::install_pack(
                &packs,
                &source,
                rev.as_deref(),
                force,
                &mut progress_line("cloning"),
            )?;
            end_progress();
            if force {
                let _ = std::fs::remove_dir_all(ctx.paths()?.worktrees().join(&installed.pack));
            }
            notify_engine(ctx);
            let env = python_env(ctx, &installed.pack, &installed.dir);
            if json {
                println!("{}", serde_json::to_string_pretty(&installed)?);
            } else {
                match &installed.sha {
                    Some(sha) => println!(
                        "installed pack {} at {} ({}) in {}",
                        installed.pack,
                        installed.revision.as_deref().unwrap_or("detached"),
                        &sha[..12],
                        installed.dir.display()
                    ),
                    None => println!(
                        "installed pack {} (a plain directory: no revisions) in {}",
                        installed.pack,
                        installed.dir.display()
                    ),
                }
                print_report(&installed.report);
            }
            env_outcome(&installed.pack, env)
        }
        PackCmd::Update { pack, json } => {
            let dir = ctx.paths()?.packs().join(&pack);
            let updated = git::update_pack(&pack, &dir, &mut progress_line("fetching"))?;
            end_progress();
            notify_engine(ctx);
            let env = python_env(ctx, &pack, &dir);
            if json {
                println!("{}", serde_json::to_string_pretty(&updated)?);
            } else {
                let moved = if updated.before == updated.after {
                    format!("stays at {}", &updated.after[..12])
                } else {
                    format!("{} -> {}", &updated.before[..12], &updated.after[..12])
                };
                let follows = match &updated.branch {
                    Some(b) => format!("branch {b}"),
                    None => "pinned (not on a branch)".to_string(),
                };
                println!("pack {pack}: {follows}, {moved}");
                if !updated.new_tags.is_empty() {
                    println!("new tags: {}", updated.new_tags.join(", "));
                }
            }
            env_outcome(&pack, env)
        }
        PackCmd::SetupVenv {
            pack,
            content_version,
            update,
            json,
        } => ctx.runtime()?.block_on(async {
            let engine = ctx.engine().await?;
            let summary = engine
                .setup_python_env(
                    &pack,
                    content_version.as_deref(),
                    !update,
                    Arc::new(print_env_progress),
                )
                .await;
            engine.shutdown();
            let summary = summary?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                let what = match &summary.requirements {
                    Some(_) => "requirements.txt over the base layer",
                    None => "no requirements.txt: the base layer alone",
                };
                println!(
                    "pack {}{}: Python environment {} ({what}), {}",
                    summary.pack,
                    summary
                        .commit
                        .as_deref()
                        .map(|c| format!(" at {}", &c[..c.len().min(12)]))
                        .unwrap_or_default(),
                    summary.dir.display(),
                    if summary.built {
                        "built"
                    } else {
                        "already there"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }),
        PackCmd::Remove { pack_refs } => ctx.runtime()?.block_on(async {
            let engine = ctx.engine().await?;
            let mut removed = 0;
            let mut failed = None;
            for pack in &pack_refs {
                match engine.uninstall_pack(pack) {
                    Ok(dir) => {
                        println!("removed pack {pack} ({})", dir.display());
                        removed += 1;
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            engine.shutdown();
            if removed > 0 {
                notify_engine(ctx);
            }
            match failed {
                Some(e) => Err(e.into()),
                None => Ok(ExitCode::SUCCESS),
            }
        }),
        PackCmd::Register {
            pack_refs,
            types,
            json,
        } => register(ctx, pack_refs, types, json),
        PackCmd::Revisions { pack, json } => ctx.runtime()?.block_on(async {
            let engine = ctx.engine().await?;
            let revisions = engine.revisions(&pack).await;
            engine.shutdown();
            let revisions = revisions?;
            if json {
                println!("{}", serde_json::to_string_pretty(&revisions)?);
            } else {
                print_revisions(&revisions)?;
            }
            Ok(ExitCode::SUCCESS)
        }),
    }
}

fn register(
    ctx: &Ctx,
    packs: Vec<String>,
    types: Vec<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let req = RegisterRequest {
        packs: Some(packs),
        types: Some(types),
        fail_on_failure: None,
    };
    let (registered, at) = match Client::find(&ctx.paths()?)? {
        Some(client) => {
            if !ctx.packs.is_empty() {
                eprintln!(
                    "note: the engine at {} loads the pack directories it was started with; --packs here does not change them (restart it with `stormdesk serve --packs DIR`, or stop it to check these packs here)",
                    client.shown_url()
                );
            }
            let body = serde_json::json!({"packs": req.packs, "types": req.types});
            (
                client.register_packs(body)?,
                Some(client.shown_url().to_string()),
            )
        }
        None => ctx.runtime()?.block_on(async {
            let engine = ctx.engine().await?;
            let registered = engine.register_packs(&req);
            engine.shutdown();
            let registered = registered.map_err(|e| match e {
                // Said here, not answered to a request.
                stormdesk_engine::EngineError::BadRequest(m) => anyhow::anyhow!(m),
                other => other.into(),
            })?;
            anyhow::Ok((serde_json::to_value(registered)?, None))
        })?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&registered)?);
        return Ok(ExitCode::SUCCESS);
    }
    match at {
        Some(url) => println!("the engine at {url} loaded its packs again:"),
        None => println!("no engine is running; the packs load when one starts. Checked:"),
    }
    if let Some(counts) = registered.as_object() {
        for (kind, n) in counts.iter().filter(|(_, v)| v.is_u64()) {
            println!("  {kind:<13} {n}");
        }
    }
    for line in registered["not_run"].as_array().into_iter().flatten() {
        println!("  not run: {}", line.as_str().unwrap_or_default());
    }
    for line in registered["not_loaded"].as_array().into_iter().flatten() {
        println!("  not loaded: {}", line.as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Ctx, json: bool) -> anyhow::Result<ExitCode> {
    if let Some(client) = ctx.running_engine()? {
        let packs: Vec<stormdesk_engine::PackSummary> = client.get_json("/v1/packs")?;
        if json {
            println!("{}", serde_json::to_string_pretty(&packs)?);
        } else {
            print_packs(&packs);
            eprintln!(
                "(the packs of the engine at {}; its log names directories that did not load)",
                client.shown_url()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    ctx.runtime()?.block_on(async {
        let engine = ctx.engine().await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&engine.packs())?);
        } else {
            print_packs(&engine.packs());
            for e in engine.pack_errors() {
                eprintln!("not loaded: {e}");
            }
        }
        engine.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}

/// One line per pack, then what of it did not load or does not run.
fn print_packs(packs: &[stormdesk_engine::PackSummary]) {
    for p in packs {
        println!(
            "{:<20} {:<10} {:>3} actions  {}{}",
            p.ref_,
            p.version.as_deref().unwrap_or("-"),
            p.actions,
            p.path,
            if p.git { "  (git)" } else { "" }
        );
        if let Some(hidden) = &p.shadows {
            println!("    takes the place of the pack of the same name in {hidden}");
        }
        for e in &p.errors {
            println!("    not loaded: {e}");
        }
        if let Some(e) = &p.python_env_error {
            println!(
                "    python environment failed (its Python actions cannot run; retry with `stormdesk pack setup-venv {}`): {}",
                p.ref_,
                e.trim()
            );
        }
        for u in &p.unsupported {
            println!("    unsupported: {}: {}", u.name, u.reason);
        }
        for i in &p.ignored {
            println!("    ignored: {i}");
        }
    }
}

/// What `pack install` found in the pack besides what runs.
fn print_report(r: &git::PackReport) {
    println!("{} action(s) ready to run", r.actions);
    for e in &r.errors {
        println!("  not loaded: {e}");
    }
    for u in &r.unsupported {
        println!("  unsupported: {u}");
    }
    for i in &r.ignored {
        println!("  ignored: {i}");
    }
}

fn print_revisions(r: &Revisions) -> anyhow::Result<()> {
    if !r.git {
        anyhow::bail!(
            "pack '{}' is not a git repository, so it has no revisions: install it from git with `stormdesk pack install <url|path>`",
            r.pack
        );
    }
    let mut out = std::io::stdout().lock();
    for rev in &r.revisions {
        let mark = if rev.checked_out { "*" } else { " " };
        let kind = format!("{:?}", rev.kind).to_lowercase();
        writeln!(
            out,
            "{mark} {kind:<6} {:<24} {} {}  {}",
            rev.name,
            &rev.sha[..12],
            rev.date.get(..10).unwrap_or(&rev.date),
            rev.subject
        )
        .context("writing the list")?;
    }
    Ok(())
}

/// A progress line on stderr while objects arrive (only on a terminal).
fn progress_line(what: &'static str) -> impl FnMut(Progress) {
    let tty = std::io::stderr().is_terminal();
    move |p: Progress| {
        if tty && p.total_objects > 0 {
            eprint!(
                "\r{what}: {}/{} objects, {} KiB",
                p.received_objects,
                p.total_objects,
                p.received_bytes / 1024
            );
        }
    }
}

fn end_progress() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// Builds the environment of a just installed or updated pack (its
/// requirements at the checked-out commit), as `st2 pack install` does.
fn python_env(ctx: &Ctx, pack: &str, dir: &Path) -> anyhow::Result<()> {
    let paths = ctx.paths()?;
    let envs = PyEnvs::new(
        paths.virtualenvs(),
        paths.python_cache(),
        &PyEnvOptions::default(),
    );
    envs.for_pack(pack, dir, None, &print_env_progress)?;
    Ok(())
}

/// The pack itself is installed either way; a failed environment is an error
/// that says how to retry.
fn env_outcome(pack: &str, env: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    match env {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!(
                "error: the pack is in place, but its Python environment could not be made: {e:#}\n(retry with `stormdesk pack setup-venv {pack}`)"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Build progress on stderr: what is built, the installer's lines, the result.
fn print_env_progress(event: &EnvEvent) {
    match event {
        EnvEvent::Building {
            env,
            tool,
            requirements,
            ..
        } => {
            let what = if env == "base" {
                "the base Python environment (st2client, six, PyYAML, requests)".to_string()
            } else {
                format!("the Python environment of pack {env}")
            };
            eprintln!("building {what} with {tool}: {requirements} requirements");
        }
        EnvEvent::Output { line, .. } => eprintln!("  {line}"),
        EnvEvent::Built { dir, millis, .. } => eprintln!(
            "ready in {:.1} s: {}",
            *millis as f64 / 1000.0,
            dir.display()
        ),
    }
}

/// A running engine reloads its packs so the change shows at once.
fn notify_engine(ctx: &Ctx) {
    let Ok(paths) = ctx.paths() else { return };
    if let Ok(Some(client)) = Client::find(&paths) {
        if let Err(e) = client.reload_packs() {
            eprintln!(
                "warning: the running engine at {} did not reload its packs ({e}); restart it to see the change",
                client.shown_url()
            );
        }
    }
}
