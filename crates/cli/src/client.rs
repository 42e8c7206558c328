//! Talking to a running engine (`stormdesk serve`, the desktop app) over its HTTP API.

use std::io::{BufRead, BufReader, Read};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use stormdesk_engine::paths::Paths;
use stormdesk_engine::reconcile::live_listener;
use stormdesk_engine::{ErrorBody, Execution, OutputChunk, RunRequest};

pub struct Client {
    url: String,
    auth: String,
}

/// An engine's event stream, opened before anything it should report happens.
pub struct Events {
    lines: std::io::Lines<BufReader<Box<dyn Read + Send + Sync>>>,
}

pub enum Seen {
    Output(String, OutputChunk),
    Execution(Box<Execution>),
}

impl Client {
    /// The engine advertised in `<data>/listener.json`, if it is alive.
    pub fn find(paths: &Paths) -> anyhow::Result<Option<Client>> {
        let Some(listener) = live_listener(paths) else {
            return Ok(None);
        };
        let token = std::fs::read_to_string(paths.token_file())
            .with_context(|| format!("reading the API token {}", paths.token_file().display()))?;
        Ok(Some(Client {
            url: listener.url,
            auth: format!("Bearer {}", token.trim()),
        }))
    }

    /// Shows the output of `id` and returns its final record once it completes.
    /// `events`, when given, was opened before `id` started. A stream that
    /// breaks off is opened again and picked up where it stopped.
    pub fn follow(
        &self,
        id: &str,
        mut events: Option<Events>,
        mut show: impl FnMut(&OutputChunk),
    ) -> anyhow::Result<Execution> {
        let mut last_seq = None;
        let mut reconnects = 0;
        loop {
            // Subscribe first, then read what is stored, so nothing falls between the two.
            let mut stream = match events.take() {
                Some(s) => s,
                None => self.events(Some(id))?,
            };
            for c in self.output_after(id, last_seq)? {
                show(&c);
                last_seq = Some(c.seq);
            }
            let current = self.execution(id)?;
            if current.status.is_completed() {
                return Ok(current);
            }
            match stream.follow(id, &mut last_seq, &mut show) {
                Ok(done) => return Ok(done),
                Err(e) if reconnects < 5 => {
                    reconnects += 1;
                    tracing::warn!(error = %e, "event stream broke off; reconnecting");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the engine to load its packs again (after an install or update).
    pub fn reload_packs(&self) -> anyhow::Result<()> {
        ureq::post(&format!("{}/v1/packs/reload", self.url))
            .set("Authorization", &self.auth)
            .call()
            .map_err(|e| api_error(e, &self.url))?;
        Ok(())
    }

    /// Every descendant of `id`, parents before children.
    pub fn descendants(&self, id: &str) -> anyhow::Result<Vec<Execution>> {
        let resp = ureq::get(&format!(
            "{}/v1/executions/{id}/children?depth=-1",
            self.url
        ))
        .set("Authorization", &self.auth)
        .call()
        .map_err(|e| api_error(e, &self.url))?;
        Ok(resp.into_json()?)
    }

    /// Follows a workflow and all its descendants until the root completes.
    pub fn follow_tree(&self, root: &str, only: Option<&str>) -> anyhow::Result<Execution> {
        let mut reconnects = 0;
        loop {
            // Subscribe first, then read what exists, so nothing falls between.
            let mut stream = self.events(None)?;
            let current = self.execution(root)?;
            let mut tail = crate::tree_tail::TreeTail::new(&current, only);
            for e in self.descendants(root)? {
                tail.execution(&e);
                for c in self.output_after(&e.id, None)? {
                    tail.output(&e.id, &c);
                }
            }
            if current.status.is_completed() {
                return Ok(current);
            }
            loop {
                match stream.next_event() {
                    Ok(Some(Seen::Execution(e))) => {
                        if e.id == root && e.status.is_completed() {
                            return Ok(*e);
                        }
                        tail.execution(&e);
                    }
                    Ok(Some(Seen::Output(id, chunk))) => {
                        if tail.knows(&id) {
                            tail.output(&id, &chunk);
                        }
                    }
                    Ok(None) | Err(_) if reconnects < 5 => {
                        reconnects += 1;
                        tracing::warn!("event stream broke off; reconnecting");
                        break;
                    }
                    Ok(None) => bail!("the engine closed the event stream before {root} completed"),
                    Err(e) => return Err(e),
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens `/v1/stream`, optionally for one execution.
    pub fn events(&self, execution: Option<&str>) -> anyhow::Result<Events> {
        let mut url = format!("{}/v1/stream", self.url);
        if let Some(id) = execution {
            url.push_str(&format!("?execution={id}"));
        }
        let resp = ureq::get(&url)
            .set("Authorization", &self.auth)
            .call()
            .map_err(|e| api_error(e, &self.url))?;
        Ok(Events {
            lines: BufReader::new(resp.into_reader()).lines(),
        })
    }

    pub fn run(&self, req: &RunRequest) -> anyhow::Result<Execution> {
        let resp = ureq::post(&format!("{}/v1/executions", self.url))
            .set("Authorization", &self.auth)
            .send_json(serde_json::to_value(req)?)
            .map_err(|e| api_error(e, &self.url))?;
        Ok(resp.into_json()?)
    }

    pub fn execution(&self, id: &str) -> anyhow::Result<Execution> {
        let resp = ureq::get(&format!("{}/v1/executions/{id}", self.url))
            .set("Authorization", &self.auth)
            .call()
            .map_err(|e| api_error(e, &self.url))?;
        Ok(resp.into_json()?)
    }

    /// Output chunks after `after` (all when `None`).
    pub fn output_after(&self, id: &str, after: Option<u64>) -> anyhow::Result<Vec<OutputChunk>> {
        let mut url = format!("{}/v1/executions/{id}/output", self.url);
        if let Some(after) = after {
            url.push_str(&format!("?after={after}"));
        }
        let resp = ureq::get(&url)
            .set("Authorization", &self.auth)
            .call()
            .map_err(|e| api_error(e, &self.url))?;
        Ok(resp.into_json()?)
    }
}

impl Events {
    /// The next output chunk or execution update; `None` when the stream ends.
    pub fn next_event(&mut self) -> anyhow::Result<Option<Seen>> {
        let mut data = String::new();
        for line in self.lines.by_ref() {
            let line = line.context("reading the event stream")?;
            if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
                continue;
            }
            if !line.is_empty() || data.is_empty() {
                continue;
            }
            let ev: Value = serde_json::from_str(&data).context("decoding an event")?;
            data.clear();
            match ev.get("type").and_then(Value::as_str) {
                Some("output") => {
                    let id = ev["execution_id"].as_str().unwrap_or_default().to_string();
                    let chunk = serde_json::from_value(ev["chunk"].clone())?;
                    return Ok(Some(Seen::Output(id, chunk)));
                }
                Some("execution") => {
                    let e = serde_json::from_value(ev["execution"].clone())?;
                    return Ok(Some(Seen::Execution(Box::new(e))));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Shows output of `id` after `last_seq` until `id` completes; returns its final record.
    pub fn follow(
        &mut self,
        id: &str,
        last_seq: &mut Option<u64>,
        mut show: impl FnMut(&OutputChunk),
    ) -> anyhow::Result<Execution> {
        while let Some(seen) = self.next_event()? {
            match seen {
                Seen::Output(eid, chunk)
                    if eid == id && last_seq.map(|l| chunk.seq > l).unwrap_or(true) =>
                {
                    show(&chunk);
                    *last_seq = Some(chunk.seq);
                }
                Seen::Execution(e) if e.id == id && e.status.is_completed() => return Ok(*e),
                _ => {}
            }
        }
        bail!("the engine closed the event stream before execution {id} completed")
    }
}

fn api_error(e: ureq::Error, url: &str) -> anyhow::Error {
    match e {
        ureq::Error::Status(_, resp) => match resp.into_json::<ErrorBody>() {
            Ok(body) => anyhow!("{}", body.message),
            Err(_) => anyhow!("the engine at {url} answered with an unreadable error"),
        },
        other => anyhow!("cannot reach the engine at {url}: {other}"),
    }
}
