//! Auth tokens and API keys, stored by the sha256 of their value (never the
//! value itself). The engine keeps them in memory and writes through here so
//! they survive a restart.

use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};

use super::{store_err, Store, WriteOp};
use crate::error::EngineError;

/// An auth token as StackStorm's `Token` (without the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    /// RFC 3339 UTC; the token is refused from then on.
    pub expiry: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// An API key as StackStorm's `ApiKey` (`key_hash` is the sha256 of the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub uid: String,
    pub user: String,
    pub key_hash: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub enabled: bool,
}

/// The auth part of the store; from [`Store::auth`].
pub struct Auth<'a> {
    pub(super) store: &'a Store,
}

fn exec(sql: &'static str, args: Vec<SqlValue>) -> WriteOp {
    WriteOp::Exec { sql, args }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

impl Auth<'_> {
    /// Tokens that have not expired at `now` (expired ones are deleted).
    pub async fn tokens(&self, now: &str) -> Result<Vec<(String, TokenRecord)>, EngineError> {
        self.store
            .write(exec(
                "DELETE FROM tokens WHERE expiry <= ?1",
                vec![text(now)],
            ))
            .await?;
        self.store
            .read(|c, p| {
                let mut stmt = c
                    .prepare("SELECT hash, id, user, expiry, metadata FROM tokens")
                    .map_err(store_err(p))?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            TokenRecord {
                                id: r.get(1)?,
                                user: r.get(2)?,
                                expiry: r.get(3)?,
                                metadata: serde_json::from_str(&r.get::<_, String>(4)?)
                                    .unwrap_or_default(),
                            },
                        ))
                    })
                    .map_err(store_err(p))?;
                rows.collect::<Result<Vec<_>, _>>().map_err(store_err(p))
            })
            .await
    }

    pub async fn add_token(&self, hash: &str, token: &TokenRecord) -> Result<(), EngineError> {
        self.store
            .write(exec(
                "INSERT OR REPLACE INTO tokens (hash, id, user, expiry, metadata) VALUES (?1, ?2, ?3, ?4, ?5)",
                vec![
                    text(hash),
                    text(&token.id),
                    text(&token.user),
                    text(&token.expiry),
                    text(&serde_json::Value::Object(token.metadata.clone()).to_string()),
                ],
            ))
            .await
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, EngineError> {
        self.store
            .read(|c, p| {
                let mut stmt = c
                    .prepare(
                        "SELECT id, hash, user, metadata, created_at, enabled FROM apikeys ORDER BY created_at",
                    )
                    .map_err(store_err(p))?;
                let rows = stmt
                    .query_map([], |r| {
                        let id: String = r.get(0)?;
                        Ok(ApiKeyRecord {
                            uid: format!("api_key:{id}"),
                            id,
                            key_hash: r.get(1)?,
                            user: r.get(2)?,
                            metadata: serde_json::from_str(&r.get::<_, String>(3)?)
                                .unwrap_or_default(),
                            created_at: r.get(4)?,
                            enabled: r.get::<_, i64>(5)? != 0,
                        })
                    })
                    .map_err(store_err(p))?;
                rows.collect::<Result<Vec<_>, _>>().map_err(store_err(p))
            })
            .await
    }

    /// Inserts or replaces an API key.
    pub async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), EngineError> {
        self.store
            .write(exec(
                "INSERT OR REPLACE INTO apikeys (id, hash, user, metadata, created_at, enabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vec![
                    text(&key.id),
                    text(&key.key_hash),
                    text(&key.user),
                    text(&serde_json::Value::Object(key.metadata.clone()).to_string()),
                    text(&key.created_at),
                    SqlValue::Integer(key.enabled as i64),
                ],
            ))
            .await
    }

    pub async fn delete_api_key(&self, id: &str) -> Result<(), EngineError> {
        self.store
            .write(exec("DELETE FROM apikeys WHERE id = ?1", vec![text(id)]))
            .await
    }
}
