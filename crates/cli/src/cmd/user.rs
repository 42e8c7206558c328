//! `stormdesk user add|list|remove`: the named users of a team server
//! (`<config>/users`, an htpasswd file with bcrypt hashes; see
//! `stormdesk_engine::users`). Each signs in with `st2 auth NAME` (or the
//! console) and gets tokens of their own; the executions they start record
//! them as `context.user`. A running `stormdesk serve` sees changes at the
//! next sign-in.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use stormdesk_engine::users;

use super::Ctx;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user, or set an existing user's password. Without
    /// --password-stdin a password is generated and printed once.
    Add {
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long = "password-stdin")]
        password_stdin: bool,
    },
    /// List the users (names only).
    List,
    /// Remove a user (their tokens expire as usual; API keys stay until deleted).
    Remove { name: String },
}

pub fn run(ctx: &Ctx, cmd: UserCmd) -> anyhow::Result<ExitCode> {
    let path = ctx.paths()?.users_file();
    match cmd {
        UserCmd::Add {
            name,
            password_stdin,
        } => {
            users::check_name(&name)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if line.is_empty() {
                    bail!("--password-stdin: stdin had no password (one line expected)");
                }
                (line, false)
            } else {
                (stormdesk_engine::token::random_token(), true)
            };
            let new = users::set_user(&path, &name, &password)?;
            let verb = if new { "added" } else { "password changed for" };
            println!("user {verb} {name} ({})", path.display());
            if generated {
                println!("password: {password}");
                println!("(shown once: sign in with `st2 auth {name}` or the console)");
            }
        }
        UserCmd::List => {
            for u in users::read_users(&path)? {
                println!("{}", u.name);
            }
        }
        UserCmd::Remove { name } => {
            if !users::remove_user(&path, &name)? {
                bail!(
                    "no user {name} in {}: `stormdesk user list` shows them",
                    path.display()
                );
            }
            println!("user removed: {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
