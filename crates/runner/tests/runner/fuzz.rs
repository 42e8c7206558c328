//! Fuzz targets (proptest) for the runner's protocol: what the runner
//! process reads on stdin (a `RunnerRequest` line, then `cancel` lines) and
//! what the engine reads from runners (`ExecutionUpdate`, output chunks,
//! spool records). Anything is parsed to a value or refused, never a panic;
//! the runner process answers a bad request with exit code 2 and a message.
//!
//! `STORMDESK_FUZZ_CASES` sets the cases per target; `scripts/fuzz.sh` runs
//! them for as long as asked; failures are kept in `proptest-regressions/`.

use std::io::Write;
use std::process::Stdio;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};
use stormdesk_runner::protocol::{ExecutionUpdate, OutputChunk, RunnerRequest, SpoolRecord};

fn config(default: u32) -> Config {
    let cases = std::env::var("STORMDESK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

const KEYS: &[&str] = &[
    "execution_id",
    "runner_type",
    "action_ref",
    "runner_parameters",
    "action_parameters",
    "entry_point",
    "pack_dir",
    "pack_config",
    "python",
    "callback",
    "spool_dir",
    "secrets",
    "api",
    "max_output_bytes",
    "url",
    "token",
    "attempts",
    "backoff_ms",
    "discover",
    "status",
    "result",
    "pid",
    "seq",
    "stream",
    "data",
    "timestamp",
    "chunks",
    "update",
    "name",
    "value",
    "position",
    "cmd",
    "timeout",
];

const WORDS: &[&str] = &[
    "local-shell-cmd",
    "noop",
    "python-script",
    "http-request",
    "succeeded",
    "failed",
    "running",
    "timeout",
    "canceled",
    "stdout",
    "stderr",
    "other",
    "x.y",
    "",
    "echo hi",
    "/nonexistent",
    "-1",
    "1e999",
    "18446744073709551616",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::sample::select(WORDS).prop_map(|s| json!(s)),
        "[ -~]{0,10}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(KEYS).prop_map(String::from), inner),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => value().prop_map(|v| v.to_string()),
        1 => "[ -~]{0,120}",
        1 => (value(), 0usize..40).prop_map(|(v, cut)| {
            let s = v.to_string();
            let mut at = s.len().saturating_sub(cut);
            while !s.is_char_boundary(at) { at -= 1; }
            s[..at].to_string()
        }),
    ]
}

proptest! {
    #![proptest_config(config(10000))]

    #[test]
    fn fuzz_protocol_messages(t in text()) {
        let _ = serde_json::from_str::<RunnerRequest>(&t);
        let _ = serde_json::from_str::<ExecutionUpdate>(&t);
        let _ = serde_json::from_str::<Vec<OutputChunk>>(&t);
        if let Ok(record) = serde_json::from_str::<SpoolRecord>(&t) {
            // What parses writes back and reads again the same.
            let again: SpoolRecord =
                serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
            prop_assert_eq!(again.execution_id, record.execution_id);
        }
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// The runner process given a random request line: it refuses it (exit
    /// 2, a message) or runs it without a callback; it never panics (101).
    #[test]
    fn fuzz_the_runner_process_stdin(line in text(), cancel in any::<bool>()) {
        // No PATH: a request that happens to be valid cannot start a
        // program (random text is no command to run on the test machine).
        let mut child = crate::support::runner_binary()
            .env("PATH", "/nonexistent")
            .env_remove("STORMDESK_PYTHON")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            let mut stdin = child.stdin.take().unwrap();
            let _ = writeln!(stdin, "{}", line.replace('\n', " "));
            if cancel {
                let _ = writeln!(stdin, "cancel");
            }
        }
        let out = child.wait_with_output().unwrap();
        let code = out.status.code();
        prop_assert!(
            matches!(code, Some(0) | Some(1) | Some(2)),
            "exit {:?}: {}", code, String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(2) {
            prop_assert!(String::from_utf8_lossy(&out.stderr).contains("stormdesk-runner:"));
        }
    }
}
