//! Where Stormdesk keeps its files. `STORMDESK_HOME` overrides everything.

use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// Mode 0700 on a directory this user owns. A directory another user owns
/// is refused: its owner can open it to anyone at any time, so nothing
/// kept in it (the store, tokens, spooled results) would be private.
fn private_dir(dir: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta =
        std::fs::metadata(dir).map_err(|e| EngineError::io("cannot read directory", dir, e))?;
    let me = nix::unistd::getuid().as_raw();
    if meta.uid() != me {
        let owner = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(meta.uid()))
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {}", meta.uid()), |u| u.name);
        return Err(EngineError::BadRequest(format!(
            "the folder {} belongs to {owner}, not to you (uid {me}): whoever owns it can read \
             and change the store and tokens kept there; use a folder of your own \
             (STORMDESK_HOME or --home) or give this one to your user (chown)",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| EngineError::io("cannot make directory private", dir, e))?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub data: PathBuf,
    pub config: PathBuf,
}

impl Paths {
    /// `home` (or `STORMDESK_HOME`) puts data in `<home>` and config in `<home>/config`;
    /// otherwise the platform's directories are used.
    pub fn resolve(home: Option<&Path>) -> Result<Paths, EngineError> {
        let home = home
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("STORMDESK_HOME").map(PathBuf::from));
        let paths = match home {
            Some(home) => Paths {
                config: home.join("config"),
                data: home,
            },
            None => {
                let dirs = directories::ProjectDirs::from("dev", "stormdesk", "stormdesk")
                    .ok_or_else(|| {
                        EngineError::BadRequest(
                            "no home directory found; set STORMDESK_HOME".to_string(),
                        )
                    })?;
                Paths {
                    data: dirs.data_dir().to_path_buf(),
                    config: dirs.config_dir().to_path_buf(),
                }
            }
        };
        Ok(paths)
    }

    /// Creates the data and config folders, private to their owner (0700)
    /// whoever created them: the store, tokens, spooled results and logs live
    /// there. A folder owned by someone else is left as it is.
    pub fn create_all(&self) -> Result<(), EngineError> {
        for dir in [
            self.data.clone(),
            self.config.clone(),
            self.spool(),
            self.logs(),
            self.configs(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| EngineError::io("cannot create directory", &dir, e))?;
            private_dir(&dir)?;
        }
        Ok(())
    }

    pub fn db(&self) -> PathBuf {
        self.data.join("stormdesk.db")
    }
    pub fn spool(&self) -> PathBuf {
        self.data.join("spool")
    }
    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }
    pub fn listener_file(&self) -> PathBuf {
        self.data.join("listener.json")
    }
    pub fn token_file(&self) -> PathBuf {
        self.config.join("token")
    }
    /// The local user for `POST /auth/v1/tokens` (`username = ...`, `password = ...`; 0600).
    pub fn credentials_file(&self) -> PathBuf {
        self.config.join("credentials")
    }
    /// The datastore's encryption key (keyczar JSON, 0600), StackStorm's
    /// `/etc/st2/keys/datastore_key.json`: see [`crate::datastore_key`].
    pub fn datastore_key_file(&self) -> PathBuf {
        self.config.join("datastore_key.json")
    }
    /// Named users for `POST /auth/v1/tokens` (htpasswd, bcrypt; 0600): see [`crate::users`].
    pub fn users_file(&self) -> PathBuf {
        self.config.join("users")
    }
    /// Pack configs, `<data>/configs/<pack>.yaml`, as StackStorm's `/opt/stackstorm/configs`.
    pub fn configs(&self) -> PathBuf {
        self.data.join("configs")
    }
    pub fn packs(&self) -> PathBuf {
        self.data.join("packs")
    }

    /// Worktrees of git packs, one per pack and commit: `<data>/worktrees/<pack>/<sha>`.
    pub fn worktrees(&self) -> PathBuf {
        self.data.join("worktrees")
    }

    /// Python environments: `<data>/virtualenvs/base/<key>` and
    /// `<data>/virtualenvs/packs/<pack>/<key>` (see [`crate::pyenv`]).
    pub fn virtualenvs(&self) -> PathBuf {
        self.data.join("virtualenvs")
    }

    /// Downloads and wheels the Python installers cache: `<data>/cache/python`.
    pub fn python_cache(&self) -> PathBuf {
        self.data.join("cache").join("python")
    }
}
