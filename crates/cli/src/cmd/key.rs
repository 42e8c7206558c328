//! `stormdesk key set|get|list|delete`: the datastore, as `st2 key`. Through
//! the running engine when there is one, else on the store directly (through
//! an engine started here).

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use stormdesk_engine::keys::{KeyFilter, KeyScope, KeySet, KeyValuePair};

use super::Ctx;
use crate::client::Client;

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create or replace a key.
    Set {
        name: String,
        value: String,
        #[command(flatten)]
        owner: Owner,
        /// Keep it secret: stored encrypted, shown as its ciphertext unless
        /// read with --decrypt (st2's --encrypt).
        #[arg(long, short = 'e', visible_alias = "secret")]
        encrypt: bool,
        /// The value is already encrypted with this datastore's key (a
        /// secret's ciphertext, as `key get` shows it): stored as it is.
        #[arg(long, conflicts_with = "encrypt")]
        encrypted: bool,
        /// Seconds until the key disappears.
        #[arg(long, short = 'l')]
        ttl: Option<u64>,
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Show one key.
    Get {
        name: String,
        #[command(flatten)]
        owner: Owner,
        /// Show a secret value in clear.
        #[arg(long, short = 'd')]
        decrypt: bool,
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// List keys: the system scope and yours unless --scope says otherwise.
    List {
        /// Only names starting with this text.
        #[arg(long, short = 'p')]
        prefix: Option<String>,
        /// `system`, `user` or `all`.
        #[arg(long, short = 's', default_value = "all")]
        scope: String,
        /// Whose user-scoped keys (yours by default).
        #[arg(long, short = 'u')]
        user: Option<String>,
        #[arg(long, short = 'd')]
        decrypt: bool,
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Delete a key.
    Delete {
        name: String,
        #[command(flatten)]
        owner: Owner,
    },
}

/// Where a key lives.
#[derive(Args)]
pub struct Owner {
    /// `system` (default) or `user`.
    #[arg(long, short = 's', default_value = "system")]
    scope: String,
    /// Whose key, in the user scope (yours by default).
    #[arg(long, short = 'u')]
    user: Option<String>,
}

fn scope(s: &str) -> anyhow::Result<KeyScope> {
    KeyScope::parse(s).ok_or_else(|| anyhow!("unknown scope '{s}': use system or user"))
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let pairs: Vec<(&str, String)> = pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    format!(
        "?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn show(keys: &[KeyValuePair], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(keys)?);
        return Ok(());
    }
    for k in keys {
        let owner = k
            .user
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default();
        let expires = k
            .expire_timestamp
            .as_deref()
            .map(|t| format!("  expires {t}"))
            .unwrap_or_default();
        println!(
            "{:<13} {}{owner} = {}{expires}",
            k.scope.full_name(),
            k.name,
            k.value
        );
    }
    Ok(())
}

pub fn run(ctx: &Ctx, cmd: KeyCmd) -> anyhow::Result<ExitCode> {
    if let Some(client) = Client::find(&ctx.paths()?)? {
        return remote(&client, cmd);
    }
    ctx.runtime()?.block_on(async {
        let mut opts = ctx.options();
        opts.advertise = false;
        let engine = stormdesk_engine::Engine::start(opts).await?;
        let result = local(&engine, cmd).await;
        engine.shutdown();
        result
    })
}

async fn local(engine: &stormdesk_engine::Engine, cmd: KeyCmd) -> anyhow::Result<ExitCode> {
    let me = engine.local_user().to_string();
    match cmd {
        KeyCmd::Set {
            name,
            value,
            owner,
            encrypt,
            encrypted,
            ttl,
            json,
        } => {
            let mut set = KeySet {
                secret: encrypt,
                encrypted,
                user: Some(owner.user.unwrap_or(me)),
                ..KeySet::new(scope(&owner.scope)?, name, value)
            };
            if let Some(ttl) = ttl {
                set = set.with_ttl(ttl)?;
            }
            show(&[engine.key_set(set).await?], json)?;
        }
        KeyCmd::Get {
            name,
            owner,
            decrypt,
            json,
        } => {
            let user = owner.user.unwrap_or(me);
            let scope = scope(&owner.scope)?;
            match engine.key_get(scope, Some(&user), &name, decrypt).await? {
                Some(k) => show(&[k], json)?,
                None => bail!("key '{name}' not found in scope '{scope}'"),
            }
        }
        KeyCmd::List {
            prefix,
            scope: s,
            user,
            decrypt,
            json,
        } => {
            let filter = KeyFilter {
                scope: match s.as_str() {
                    "all" => None,
                    other => Some(scope(other)?),
                },
                user: Some(user.unwrap_or(me)),
                prefix,
                limit: None,
                offset: 0,
            };
            show(&engine.key_list(filter, decrypt).await?, json)?;
        }
        KeyCmd::Delete { name, owner } => {
            let user = owner.user.unwrap_or(me);
            let scope = scope(&owner.scope)?;
            if !engine.key_delete(scope, Some(&user), &name).await? {
                bail!("key '{name}' not found in scope '{scope}'");
            }
            println!("key '{name}' deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remote(client: &Client, cmd: KeyCmd) -> anyhow::Result<ExitCode> {
    let parse = |v: Value| -> anyhow::Result<KeyValuePair> { Ok(serde_json::from_value(v)?) };
    match cmd {
        KeyCmd::Set {
            name,
            value,
            owner,
            encrypt,
            encrypted,
            ttl,
            json,
        } => {
            scope(&owner.scope)?;
            let mut body = json!({"name": name, "value": value, "scope": owner.scope,
                "secret": encrypt || encrypted, "encrypted": encrypted});
            if let Some(user) = owner.user {
                body["user"] = json!(user);
            }
            if let Some(ttl) = ttl {
                body["ttl"] = json!(ttl);
            }
            let key = client
                .keys("PUT", &format!("/v1/keys/{}", encode(&name)), Some(body))?
                .ok_or_else(|| anyhow!("the engine returned no key"))?;
            show(&[parse(key)?], json)?;
        }
        KeyCmd::Get {
            name,
            owner,
            decrypt,
            json,
        } => {
            let q = query(&[
                ("scope", Some(owner.scope.clone())),
                ("user", owner.user),
                ("decrypt", Some(decrypt.to_string())),
            ]);
            match client.keys("GET", &format!("/v1/keys/{}{q}", encode(&name)), None)? {
                Some(k) => show(&[parse(k)?], json)?,
                None => bail!("key '{name}' not found in scope '{}'", owner.scope),
            }
        }
        KeyCmd::List {
            prefix,
            scope,
            user,
            decrypt,
            json,
        } => {
            let q = query(&[
                ("scope", Some(scope)),
                ("user", user),
                ("prefix", prefix),
                ("decrypt", Some(decrypt.to_string())),
            ]);
            let list = client
                .keys("GET", &format!("/v1/keys{q}"), None)?
                .unwrap_or(Value::Array(vec![]));
            let keys: Vec<KeyValuePair> = serde_json::from_value(list)?;
            show(&keys, json)?;
        }
        KeyCmd::Delete { name, owner } => {
            let q = query(&[("scope", Some(owner.scope.clone())), ("user", owner.user)]);
            let path = format!("/v1/keys/{}{q}", encode(&name));
            if client.keys("DELETE", &path, None)?.is_none() {
                bail!("key '{name}' not found in scope '{}'", owner.scope);
            }
            println!("key '{name}' deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
