//! A Server-Sent Events reader for a remote's `/v1/stream`, fed the body's
//! bytes as they arrive. Follows the HTML spec's parsing rules (as the UI's
//! `ui/src/lib/sse.ts`): lines end in `\n`, `\r\n` or `\r`; a blank line
//! dispatches the message; `:` starts a comment (StackStorm's and Stormdesk's
//! keep-alives); `data` lines join with `\n`; an `id` without NUL is kept for
//! `Last-Event-ID`.

use serde::Serialize;

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SseMessage {
    /// The last `id` seen (it carries over to later messages, as the spec says).
    pub id: Option<String>,
    /// `event`, or `message` when the message named none.
    pub event: String,
    pub data: String,
}

/// The parser's state between chunks of the body.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not ended yet.
    pending: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting this one belongs to it.
    after_cr: bool,
    id: Option<String>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// The `id` of the last message with one (what `Last-Event-ID` resumes from).
    pub fn last_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Feeds a chunk of the body; returns the messages it completes, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseMessage> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.pending);
                    if let Some(m) = self.line(&String::from_utf8_lossy(&line)) {
                        out.push(m);
                    }
                }
                _ => self.pending.push(b),
            }
        }
        out
    }

    fn line(&mut self, line: &str) -> Option<SseMessage> {
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            let event = std::mem::take(&mut self.event);
            if data.is_empty() {
                return None;
            }
            return Some(SseMessage {
                id: self.id.clone(),
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data: data.join("\n"),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = value.to_string(),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
        None
    }
}
