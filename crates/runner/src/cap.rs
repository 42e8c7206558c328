//! A bound on what one execution keeps of its output.
//!
//! An action can print without end; everything it prints would otherwise be
//! stored twice (the output chunks and the result's `stdout`/`stderr`) and
//! sent to every client that reads the record. The runner keeps the first
//! `limit` bytes of output (all streams together), says once in the output
//! where it stopped, and cuts any longer string in the result the same way,
//! recording `truncated: {limit_bytes, dropped_bytes}` in the result.

use serde_json::{json, Value};

/// Default of [`crate::protocol::RunnerRequest::max_output_bytes`]: 8 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 8 * 1024 * 1024;

/// Counts the output of one execution against its limit.
#[derive(Debug)]
pub struct OutputCap {
    limit: u64,
    kept: u64,
    dropped: u64,
}

impl OutputCap {
    /// `limit` bytes of output (at least 1).
    pub fn new(limit: u64) -> OutputCap {
        OutputCap {
            limit: limit.max(1),
            kept: 0,
            dropped: 0,
        }
    }

    /// What of `data` is kept: all of it while under the limit, the part up
    /// to the limit (on a character boundary) followed by a note the first
    /// time the limit is reached, nothing afterwards.
    pub fn take(&mut self, data: &str) -> Option<String> {
        let room = self.limit.saturating_sub(self.kept);
        if (data.len() as u64) <= room {
            self.kept += data.len() as u64;
            return Some(data.to_string());
        }
        let first_time = self.dropped == 0;
        let cut = floor_char_boundary(data, room as usize);
        self.kept += cut as u64;
        self.dropped += (data.len() - cut) as u64;
        first_time.then(|| format!("{}{}", &data[..cut], self.note()))
    }

    /// Bytes of output left out so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn note(&self) -> String {
        format!(
            "\n[stormdesk: output beyond {} bytes is not kept for this execution; raise the limit with STORMDESK_MAX_OUTPUT_BYTES]\n",
            self.limit
        )
    }

    /// Cuts every string of `result` longer than the limit, and records the
    /// truncation in an object result (`truncated`) when anything was cut,
    /// here or in the output. Walks with an explicit stack.
    pub fn cap_result(&self, result: &mut Value) {
        let limit = self.limit as usize;
        let mut dropped = self.dropped;
        let mut stack = vec![&mut *result];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) if s.len() > limit => {
                    let cut = floor_char_boundary(s, limit);
                    dropped = dropped.max((s.len() - cut) as u64);
                    s.truncate(cut);
                    s.push_str(&self.note());
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => stack.extend(map.values_mut()),
                _ => {}
            }
        }
        if dropped > 0 {
            if let Value::Object(map) = result {
                map.insert(
                    "truncated".into(),
                    json!({"limit_bytes": self.limit, "dropped_bytes": dropped}),
                );
            }
        }
    }
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_stops_at_the_limit_with_one_note() {
        let mut cap = OutputCap::new(10);
        assert_eq!(cap.take("12345").as_deref(), Some("12345"));
        let cut = cap.take("6789abcdef").unwrap();
        assert!(cut.starts_with("6789a\n[stormdesk: output beyond 10 bytes"));
        assert_eq!(cap.take("more"), None);
        assert_eq!(cap.dropped(), 5 + 4);
        // A multi-byte character is never split.
        let mut cap = OutputCap::new(2);
        assert!(cap.take("aé").unwrap().starts_with("a\n"));
    }

    #[test]
    fn long_result_strings_are_cut_and_the_cut_is_recorded() {
        let cap = OutputCap::new(4);
        let mut r = json!({"stdout": "0123456789", "stderr": "ok", "return_code": 0});
        cap.cap_result(&mut r);
        assert!(r["stdout"]
            .as_str()
            .unwrap()
            .starts_with("0123\n[stormdesk"));
        assert_eq!(r["stderr"], "ok");
        assert_eq!(
            r["truncated"],
            json!({"limit_bytes": 4, "dropped_bytes": 6})
        );
        let mut small = json!({"stdout": "ok"});
        OutputCap::new(4).cap_result(&mut small);
        assert_eq!(small, json!({"stdout": "ok"}));
    }
}
