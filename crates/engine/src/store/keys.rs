//! The datastore's table: keys by scope and name. Reads skip expired keys;
//! writes (through the writer thread) purge them.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{store_err, Store, WriteOp};
use crate::datastore_key::DatastoreKey;
use crate::error::EngineError;
use crate::keys::{KeyFilter, KeyScope, KeyValuePair};

/// The datastore part of the store; from [`Store::keys`].
pub struct Keys<'a> {
    pub(super) store: &'a Store,
}

/// `now` in every query is a stored timestamp (see `crate::keys::timestamp`):
/// a key is live while it has no expiry or expires after `now`.
const LIVE: &str = "(expire_ts IS NULL OR expire_ts > :now)";

/// One live key, read on the caller's connection.
pub(crate) fn get_key(
    c: &Connection,
    p: &Path,
    scope: KeyScope,
    name: &str,
    now: &str,
) -> Result<Option<KeyValuePair>, EngineError> {
    let sql = format!(
        "SELECT scope, name, value, secret, expire_ts, encrypted FROM keys
         WHERE scope = :scope AND name = :name AND {LIVE}"
    );
    c.query_row(
        &sql,
        rusqlite::named_params! {
            ":scope": scope.as_str(), ":name": name, ":now": now,
        },
        |r| key_from_row(r, p),
    )
    .optional()
    .map_err(store_err(p))
}

impl Keys<'_> {
    pub async fn get(
        &self,
        scope: KeyScope,
        name: &str,
        now: String,
    ) -> Result<Option<KeyValuePair>, EngineError> {
        let name = name.to_string();
        self.store
            .read(move |c, p| get_key(c, p, scope, &name, &now))
            .await
    }

    pub async fn list(
        &self,
        filter: KeyFilter,
        now: String,
    ) -> Result<Vec<KeyValuePair>, EngineError> {
        self.store.read(move |c, p| list(c, p, &filter, &now)).await
    }

    pub async fn set(&self, key: KeyValuePair, now: String) -> Result<(), EngineError> {
        self.write(WriteOp::KeySet {
            key: Box::new(key),
            now,
        })
        .await
        .map(drop)
    }

    /// True when a live key was deleted.
    pub async fn delete(
        &self,
        scope: KeyScope,
        name: &str,
        now: String,
    ) -> Result<bool, EngineError> {
        let deleted = self
            .write(WriteOp::KeyDelete {
                scope: scope.as_str().to_string(),
                name: name.to_string(),
                now,
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn write(&self, op: WriteOp) -> Result<usize, EngineError> {
        self.store
            .writer
            .submit(op)?
            .await
            .map_err(|_| EngineError::StoreClosed)?
    }
}

fn list(
    c: &Connection,
    p: &Path,
    f: &KeyFilter,
    now: &str,
) -> Result<Vec<KeyValuePair>, EngineError> {
    // substr() rather than LIKE: names hold '_' and '%' as plain text.
    let sql = format!(
        "SELECT scope, name, value, secret, expire_ts, encrypted FROM keys
         WHERE {LIVE}
           AND (:scope IS NULL OR scope = :scope)
           AND (:prefix IS NULL OR substr(name, 1, length(:prefix)) = :prefix)
         ORDER BY scope, name
         LIMIT :limit OFFSET :offset"
    );
    let mut stmt = c.prepare(&sql).map_err(store_err(p))?;
    let limit = f.limit.map(i64::from).unwrap_or(-1);
    let rows = stmt
        .query_map(
            rusqlite::named_params! {
                ":now": now,
                ":scope": f.scope.map(KeyScope::as_str),
                ":prefix": f.prefix.as_deref(),
                ":limit": limit,
                ":offset": i64::from(f.offset),
            },
            |r| key_from_row(r, p),
        )
        .map_err(store_err(p))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(store_err(p))
}

fn key_from_row(r: &Row<'_>, p: &Path) -> rusqlite::Result<KeyValuePair> {
    let scope: String = r.get(0)?;
    let scope = KeyScope::parse(&scope).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown key scope '{scope}' in {}", p.display()).into(),
        )
    })?;
    Ok(KeyValuePair {
        id: String::new(),
        uid: String::new(),
        scope,
        name: r.get(1)?,
        value: r.get(2)?,
        secret: r.get(3)?,
        encrypted: r.get(5)?,
        user: None,
        expire_timestamp: r.get(4)?,
    })
}

/// Runs in the writer's transaction. Returns the rows written (1).
pub(super) fn write_set(
    tx: &Transaction<'_>,
    key: &KeyValuePair,
    now: &str,
) -> rusqlite::Result<usize> {
    // Lazy sweep: keeps keys written with a ttl (locks, counters) from piling up.
    tx.prepare_cached("DELETE FROM keys WHERE expire_ts IS NOT NULL AND expire_ts <= ?1")?
        .execute([now])?;
    tx.prepare_cached(
        "INSERT INTO keys (scope, name, value, secret, expire_ts, encrypted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value,
           secret = excluded.secret, expire_ts = excluded.expire_ts,
           encrypted = excluded.encrypted",
    )?
    .execute(params![
        key.scope.as_str(),
        key.name,
        key.value,
        key.secret,
        key.expire_timestamp,
        key.encrypted
    ])
}

/// Encrypts the secret values kept in clear (by versions before encryption
/// at rest), in one transaction, overwriting the freed clear text.
pub(super) fn encrypt_clear_secrets(c: &Connection, key: &DatastoreKey) -> rusqlite::Result<()> {
    let clear: Vec<(String, String, String)> = c
        .prepare("SELECT scope, name, value FROM keys WHERE secret = 1 AND encrypted = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if clear.is_empty() {
        return Ok(());
    }
    c.execute_batch("PRAGMA secure_delete = ON; BEGIN IMMEDIATE;")?;
    let sealed = (|| {
        let mut update =
            c.prepare("UPDATE keys SET value = ?3, encrypted = 1 WHERE scope = ?1 AND name = ?2")?;
        for (scope, name, value) in &clear {
            update.execute(params![scope, name, key.encrypt(value)])?;
        }
        Ok(())
    })();
    match sealed {
        Ok(()) => c.execute_batch("COMMIT;")?,
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK;");
            return Err(e);
        }
    }
    // The clear text also sits in the WAL until it is checkpointed.
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    c.execute_batch("PRAGMA secure_delete = OFF;")?;
    tracing::info!(
        count = clear.len(),
        "secret datastore values kept in clear by an earlier version are now encrypted"
    );
    Ok(())
}

/// Runs in the writer's transaction. Returns 1 when a live key was deleted.
pub(super) fn write_delete(
    tx: &Transaction<'_>,
    scope: &str,
    name: &str,
    now: &str,
) -> rusqlite::Result<usize> {
    // An expired key is already gone as far as callers can tell.
    tx.prepare_cached(
        "DELETE FROM keys WHERE scope = ?1 AND name = ?2
           AND expire_ts IS NOT NULL AND expire_ts <= ?3",
    )?
    .execute(params![scope, name, now])?;
    tx.prepare_cached("DELETE FROM keys WHERE scope = ?1 AND name = ?2")?
        .execute(params![scope, name])
}
