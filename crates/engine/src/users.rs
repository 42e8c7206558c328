//! Named users for a team server: `<config>/users`, an htpasswd file of
//! `name:bcrypt-hash` lines, mode 0600.
//!
//! It is the file StackStorm's standard `flat_file` auth backend reads
//! (`st2-auth-backend-flat-file`, an Apache htpasswd file): a team moving
//! from StackStorm can bring theirs, and `htpasswd -B` edits this one.
//! Passwords are hashed with bcrypt (`$2y$`, as `htpasswd -B` writes; `$2a$`
//! and `$2b$` are read too); other htpasswd schemes (MD5 `$apr1$`, `{SHA}`,
//! crypt) are refused with a message saying how to re-hash.
//!
//! `POST /auth/v1/tokens` checks these users after the local user (see
//! [`crate::auth`]); the file is read at each sign-in, so `stormdesk user
//! add` takes effect on a running server.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::EngineError;

/// bcrypt's work factor for new hashes (htpasswd's default is 5; 12 is
/// bcrypt's own recommendation).
pub const BCRYPT_COST: u32 = 12;

/// One line of the users file.
#[derive(Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    hash: String,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Checks a user name: non-empty, at most 128 characters, no `:`, spaces or
/// control characters (the htpasswd line format).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    if name.is_empty()
        || name.chars().count() > 128
        || name
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(EngineError::BadRequest(format!(
            "user name {name:?}: 1 to 128 characters, without ':', spaces or control characters"
        )));
    }
    Ok(())
}

/// The entries of the users file at `path` (none when it does not exist).
/// Blank lines and `#` comments are skipped.
pub fn read_users(path: &Path) -> Result<Vec<UserEntry>, EngineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io("cannot read the users file", path, e)),
    };
    let mut users = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, hash)) = line.split_once(':') else {
            return Err(EngineError::BadRequest(format!(
                "{}:{}: not a `name:hash` line; fix it with `stormdesk user add NAME` or `htpasswd -B`",
                path.display(),
                n + 1
            )));
        };
        users.push(UserEntry {
            name: name.to_string(),
            hash: hash.to_string(),
        });
    }
    Ok(users)
}

fn write_users(path: &Path, users: &[UserEntry]) -> Result<(), EngineError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| EngineError::io("cannot create config directory", dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    let mut text = String::from(
        "# Stormdesk's users (htpasswd, bcrypt): `stormdesk user add NAME`, or `htpasswd -B`.\n",
    );
    for u in users {
        text.push_str(&format!("{}:{}\n", u.name, u.hash));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| EngineError::io("cannot write the users file", &tmp, e))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| EngineError::io("cannot write the users file", &tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| EngineError::io("cannot restrict the users file", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| EngineError::io("cannot write the users file", path, e))
}

/// Adds user `name` with `password`, or sets the password of an existing one.
/// Returns true when the user is new.
pub fn set_user(path: &Path, name: &str, password: &str) -> Result<bool, EngineError> {
    check_name(name)?;
    if password.is_empty() {
        return Err(EngineError::BadRequest(format!(
            "user {name}: the password is empty"
        )));
    }
    let hash = bcrypt::hash(password, BCRYPT_COST).map_err(|e| {
        EngineError::BadRequest(format!("user {name}: cannot hash the password: {e}"))
    })?;
    // As htpasswd -B writes it.
    let hash = hash.replacen("$2b$", "$2y$", 1);
    let mut users = read_users(path)?;
    let new = match users.iter_mut().find(|u| u.name == name) {
        Some(u) => {
            u.hash = hash;
            false
        }
        None => {
            users.push(UserEntry {
                name: name.to_string(),
                hash,
            });
            true
        }
    };
    write_users(path, &users)?;
    Ok(new)
}

/// Removes user `name`; false when there was none.
pub fn remove_user(path: &Path, name: &str) -> Result<bool, EngineError> {
    let mut users = read_users(path)?;
    let before = users.len();
    users.retain(|u| u.name != name);
    if users.len() == before {
        return Ok(false);
    }
    write_users(path, &users)?;
    Ok(true)
}

/// Whether `password` is user `name`'s in the users file. A user whose hash
/// is not bcrypt is an error saying how to re-hash it.
pub fn verify(path: &Path, name: &str, password: &str) -> Result<bool, EngineError> {
    let users = read_users(path)?;
    // Written by another tool (htpasswd, passlib) with a looser mode: tightened, as the credentials file is.
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| EngineError::io("cannot restrict the users file", path, e))?;
        }
    }
    let Some(user) = users.iter().find(|u| u.name == name) else {
        return Ok(false);
    };
    let hash = &user.hash;
    if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
        return Err(EngineError::Unauthorized(format!(
            "user {name} in {}: its password is not hashed with bcrypt, the only scheme Stormdesk \
             reads; set it again with `stormdesk user add {name}` or `htpasswd -B`",
            path.display()
        )));
    }
    // The bcrypt crate reads $2y$ as $2b$ (the same algorithm).
    let hash = hash.replacen("$2y$", "$2b$", 1);
    bcrypt::verify(password, &hash).map_err(|e| {
        EngineError::Unauthorized(format!(
            "user {name} in {}: its password hash cannot be read ({e}); set it again with \
             `stormdesk user add {name}`",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_added_checked_replaced_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        assert!(set_user(&path, "ada", "first").unwrap());
        assert!(set_user(&path, "bob", "second").unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("ada:$2y$12$"), "{text}");
        assert!(!text.contains("first"));
        assert!(verify(&path, "ada", "first").unwrap());
        assert!(!verify(&path, "ada", "second").unwrap());
        assert!(!verify(&path, "carol", "first").unwrap());
        assert!(!set_user(&path, "ada", "again").unwrap());
        assert!(verify(&path, "ada", "again").unwrap());
        assert!(verify(&path, "bob", "second").unwrap());
        assert!(remove_user(&path, "ada").unwrap());
        assert!(!remove_user(&path, "ada").unwrap());
        let names: Vec<_> = read_users(&path)
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["bob"]);
    }

    #[test]
    fn bad_names_lines_and_schemes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        for bad in ["", "a:b", "a b", "tab\t"] {
            assert!(set_user(&path, bad, "pw").is_err(), "{bad:?}");
        }
        std::fs::write(&path, "# c\nold:$apr1$abc$def\nbroken\n").unwrap();
        let e = read_users(&path).unwrap_err().to_string();
        assert!(e.contains("users:3"), "{e}");
        std::fs::write(&path, "old:$apr1$abc$def\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = verify(&path, "old", "pw").unwrap_err().to_string();
        assert!(e.contains("not hashed with bcrypt"), "{e}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "tightened");
    }
}
