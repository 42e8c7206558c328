//! Class 3 of issue 13: nothing is acknowledged before the store committed
//! it. A store on a full disk answers "unavailable" (the runner keeps its
//! result in the spool, applied once there is room); a store that cannot be
//! written at all is refused at start.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use stormdesk_engine::{Engine, EngineOptions, RunRequest, Status};

use crate::common::*;

/// A small tmpfs mounted for the test (root only), unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .expect("mount");
        assert!(status.success(), "mount tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }

    /// Remounts read-only (`ro`) or read-write.
    pub fn remount(&self, mode: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .expect("mount -o remount");
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes to `path` until the disk is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    // Whatever is left is smaller than a block: take it byte by byte.
    let mut byte = [0u8; 1];
    while f.write_all(&byte).is_ok() {
        byte[0] = 1;
        if f.sync_data().is_err() {
            break;
        }
    }
}

fn spooled(fx: &Fixture, id: &str) -> bool {
    fx.path("spool").join(format!("{id}.json")).is_file()
}

#[test]
fn a_result_reported_while_the_disk_is_full_is_spooled_and_applied_when_there_is_room() {
    if !root_or_skip("mounting a small tmpfs to fill the store's disk") {
        return;
    }
    let fx = Fixture::new();
    // The database lives on a small disk of its own; the rest of the data
    // folder (the spool) does not.
    let disk = Tmpfs::mount(&fx.path("disk"), "4m");
    std::os::unix::fs::symlink(disk.0.join("stormdesk.db"), fx.path("stormdesk.db")).unwrap();
    let options = EngineOptions {
        advertise: true,
        ..fx.options()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (id, key_error) = rt.block_on(async {
        let engine = Engine::start(options.clone()).await.unwrap();
        let mut rx = engine.subscribe();
        let fifo = fx.path("gate.fifo");
        mkfifo(&fifo);
        let e = engine
            .run(RunRequest {
                action: "t.gate".into(),
                parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        // The disk fills up while the action runs; then it finishes.
        engine
            .key_set(stormdesk_engine::keys::KeySet::new(
                stormdesk_engine::keys::KeyScope::System,
                "before",
                "1",
            ))
            .await
            .unwrap();
        fill(&disk.0.join("filler"));
        let key_error = engine
            .key_set(stormdesk_engine::keys::KeySet::new(
                stormdesk_engine::keys::KeyScope::System,
                "during",
                "x".repeat(64 * 1024),
            ))
            .await
            .expect_err("a write to a full disk fails")
            .to_string();
        std::fs::write(&fifo, "full\n").unwrap();
        // The runner is refused (503), keeps trying, spools and exits; the
        // spool cannot be applied either, so it stays.
        engine
            .wait_for_runners(std::time::Duration::from_secs(60))
            .await;
        assert!(spooled(&fx, &e.id), "the result is kept in the spool");
        let now = engine.execution(&e.id).await.unwrap();
        assert_eq!(
            now.status,
            Status::Running,
            "nothing is reported done that the store does not have"
        );
        engine.shutdown();
        (e.id, key_error)
    });
    rt.shutdown_background();
    assert!(
        key_error.contains("the disk is full") && key_error.contains("stormdesk.db"),
        "{key_error}"
    );

    // Room again: the next engine applies the spool.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options).await.unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!("waiting\ndone-full"));
        let text: String = engine
            .output(&id, None)
            .await
            .unwrap()
            .iter()
            .map(|c| c.data.clone())
            .collect();
        assert_eq!(text, "waiting\ndone-full\n");
        // The file goes right after it is applied (bounded wait).
        let until = std::time::Instant::now() + WAIT;
        while spooled(&fx, &id) {
            assert!(std::time::Instant::now() < until, "the applied spool stays");
            tokio::task::yield_now().await;
        }
        engine.shutdown();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_written_is_refused_at_start_with_the_reason() {
    let fx = Fixture::new();
    // A data folder as an engine leaves it (token, credentials, a store)...
    let engine = fx.engine().await;
    engine.shutdown();
    let config = fx.path("config");
    if root_or_skip("a read-only file system for the store") {
        // ...copied to a disk that is then made read-only.
        let disk = Tmpfs::mount(&fx.path("ro"), "4m");
        let home = disk.0.clone();
        for d in ["config", "spool", "logs", "configs"] {
            std::fs::create_dir(home.join(d)).unwrap();
            std::fs::set_permissions(
                home.join(d),
                std::os::unix::fs::PermissionsExt::from_mode(0o700),
            )
            .unwrap();
        }
        for f in ["token", "credentials", "datastore_key.json"] {
            std::fs::copy(config.join(f), home.join("config").join(f)).unwrap();
        }
        std::fs::write(home.join("stormdesk.db"), "").unwrap();
        std::fs::set_permissions(
            home.join("stormdesk.db"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        disk.remount("ro");
        let started = tokio::time::timeout(
            WAIT,
            Engine::start(EngineOptions {
                home: Some(home.clone()),
                ..fx.options()
            }),
        )
        .await
        .expect("starting on a read-only store does not hang");
        let msg = started.err().expect("refused").to_string();
        assert!(
            msg.contains(&home.join("stormdesk.db").display().to_string())
                && msg.contains("cannot save changes")
                && msg.contains("read-only"),
            "{msg}"
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        let db = fx.path("stormdesk.db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
        let msg = Engine::start(fx.options())
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(
            msg.contains(&db.display().to_string()) && msg.contains("read-only"),
            "{msg}"
        );
    }
}
