//! The datastore seen by templates: `st2kv.system.key` in parameter
//! templates, `st2kv('system.key')` in workflows and the `decrypt_kv`
//! filter. This crate does no IO: the caller implements [`Datastore`].

/// A datastore scope, as in StackStorm's `st2kv.system` / `st2kv.user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvScope {
    /// `st2kv.system.*`, keys prefixed `system.` in `st2kv()`.
    System,
    /// `st2kv.user.*`, unprefixed keys in `st2kv()`: the caller resolves
    /// them for the user the template runs for.
    User,
}

/// Read access to StackStorm's key-value store, supplied by the caller.
///
/// Values are the stored strings, as StackStorm stores them. Errors are
/// plain messages; they must not contain secret values.
pub trait Datastore: Send + Sync {
    /// The value of `key` in `scope`, `Ok(None)` when there is no such key.
    /// With `decrypt`, a secret value is returned decrypted.
    fn get(&self, scope: KvScope, key: &str, decrypt: bool) -> Result<Option<String>, String>;

    /// Decrypts a secret value as read from the store (the `decrypt_kv`
    /// filter; StackStorm: `st2common/expressions/functions/datastore.py`).
    fn decrypt(&self, ciphertext: &str) -> Result<String, String>;
}

/// Splits an `st2kv()` key into scope and key as StackStorm's
/// `st2common/util/keyvalue.py` does: `system.` selects the system scope,
/// anything else is a user key.
pub fn split_scope(key: &str) -> (KvScope, &str) {
    match key.strip_prefix("system.") {
        Some(rest) => (KvScope::System, rest),
        None => (KvScope::User, key),
    }
}
