//! Talking to a running engine (`stormdesk serve`, the desktop app) over its HTTP API.

use std::io::{BufRead, BufReader, Read};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use stormdesk_engine::paths::Paths;
use stormdesk_engine::reconcile::live_listener;
use stormdesk_engine::{ErrorBody, Execution, ExecutionOutput, RunRequest};

#[derive(Clone)]
pub struct Client {
    url: String,
    /// What to call the engine in messages: the address people use
    /// (`serve --listen`), else `url`.
    shown: String,
    auth: String,
}

/// An engine's event stream, opened before anything it should report happens.
pub struct Events {
    lines: std::io::Lines<BufReader<Box<dyn Read + Send + Sync>>>,
}

pub enum Seen {
    Output(ExecutionOutput),
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
            shown: listener.console.unwrap_or_else(|| listener.url.clone()),
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
        mut show: impl FnMut(&ExecutionOutput),
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

    /// `POST /v1/packs/register`: the engine loads its packs again and
    /// answers what it loaded (`stormdesk_engine::pack_register::Registered`
    /// as JSON).
    pub fn register_packs(&self, req: Value) -> anyhow::Result<Value> {
        Ok(self
            .send("POST", "/v1/packs/register", Some(req))?
            .into_json()?)
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
                    Ok(Some(Seen::Output(chunk))) => {
                        if tail.knows(&chunk.execution_id) {
                            tail.output(&chunk.execution_id.clone(), &chunk);
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

    /// The engine's address as people know it (see [`Client::find`]).
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// Opens `/v1/stream` for executions and their output, optionally of one execution.
    pub fn events(&self, execution: Option<&str>) -> anyhow::Result<Events> {
        let mut url = format!(
            "{}/v1/stream?events=st2.execution__create,st2.execution__update,st2.execution.output__create",
            self.url
        );
        if let Some(id) = execution {
            url.push_str(&format!("&execution_ids={id}"));
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
    pub fn output_after(
        &self,
        id: &str,
        after: Option<u64>,
    ) -> anyhow::Result<Vec<ExecutionOutput>> {
        let mut url = format!("{}/v1/executions/{id}/output?format=json", self.url);
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let resp = ureq::get(&url)
            .set("Authorization", &self.auth)
            .call()
            .map_err(|e| api_error(e, &self.url))?;
        Ok(resp.into_json()?)
    }
}

impl Client {
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<ureq::Response> {
        let req =
            ureq::request(method, &format!("{}{path}", self.url)).set("Authorization", &self.auth);
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        resp.map_err(|e| api_error(e, &self.url))
    }

    /// `GET path` as `T` (the engine's own shapes: `/v1/actions`,
    /// `/v1/packs`, ...); a 404 is the engine's error message.
    pub fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Ok(self.send("GET", path, None)?.into_json()?)
    }

    /// `PUT /v1/executions/{id}` with a status: `pausing`, `resuming`.
    pub fn set_status(&self, id: &str, status: &str) -> anyhow::Result<Execution> {
        Ok(self
            .send(
                "PUT",
                &format!("/v1/executions/{id}"),
                Some(serde_json::json!({ "status": status })),
            )?
            .into_json()?)
    }

    /// `GET /v1/inquiries?limit=`.
    pub fn inquiries(&self, limit: u32) -> anyhow::Result<Vec<stormdesk_engine::inquiry::Inquiry>> {
        Ok(self
            .send("GET", &format!("/v1/inquiries?limit={limit}"), None)?
            .into_json()?)
    }

    /// `GET /v1/inquiries/{id}`.
    pub fn inquiry(&self, id: &str) -> anyhow::Result<stormdesk_engine::inquiry::Inquiry> {
        Ok(self
            .send("GET", &format!("/v1/inquiries/{id}"), None)?
            .into_json()?)
    }

    /// `PUT /v1/inquiries/{id}` `{"response": ...}`: `{"id", "response"}`.
    pub fn respond(&self, id: &str, response: Value) -> anyhow::Result<Value> {
        Ok(self
            .send(
                "PUT",
                &format!("/v1/inquiries/{id}"),
                Some(serde_json::json!({"id": id, "response": response})),
            )?
            .into_json()?)
    }

    /// `DELETE /v1/executions/{id}`: the execution, or StackStorm's message
    /// when it had already completed.
    pub fn cancel(&self, id: &str) -> anyhow::Result<Value> {
        Ok(self
            .send("DELETE", &format!("/v1/executions/{id}"), None)?
            .into_json()?)
    }

    /// `POST /v1/executions/{id}/re_run`.
    pub fn re_run(&self, id: &str, body: Value) -> anyhow::Result<Execution> {
        Ok(self
            .send("POST", &format!("/v1/executions/{id}/re_run"), Some(body))?
            .into_json()?)
    }

    /// `GET path`: the JSON answer, `None` for a 404.
    pub fn get_optional(&self, path: &str) -> anyhow::Result<Option<Value>> {
        self.keys("GET", path, None)
    }

    /// `GET|PUT|DELETE /v1/keys...` with a query string; `None` for a 404,
    /// `null` for a 204.
    pub fn keys(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Option<Value>> {
        let req = ureq::request(method, &format!("{}{path_and_query}", self.url))
            .set("Authorization", &self.auth);
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match resp {
            Ok(r) if r.status() == 204 => Ok(Some(Value::Null)),
            Ok(r) => Ok(Some(r.into_json()?)),
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(api_error(e, &self.url)),
        }
    }
}

impl Events {
    /// The next output chunk or execution update; `None` when the stream ends.
    pub fn next_event(&mut self) -> anyhow::Result<Option<Seen>> {
        let mut data = String::new();
        let mut name = String::new();
        for line in self.lines.by_ref() {
            let line = line.context("reading the event stream")?;
            if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
                continue;
            }
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
                continue;
            }
            if !line.is_empty() || data.is_empty() {
                continue;
            }
            let seen = match name.as_str() {
                "st2.execution.output__create" => Some(Seen::Output(
                    serde_json::from_str(&data).context("decoding an output event")?,
                )),
                "st2.execution__create" | "st2.execution__update" => Some(Seen::Execution(
                    Box::new(serde_json::from_str(&data).context("decoding an execution event")?),
                )),
                _ => None,
            };
            data.clear();
            name.clear();
            if seen.is_some() {
                return Ok(seen);
            }
        }
        Ok(None)
    }

    /// Shows output of `id` after `last_seq` until `id` completes; returns its final record.
    pub fn follow(
        &mut self,
        id: &str,
        last_seq: &mut Option<u64>,
        mut show: impl FnMut(&ExecutionOutput),
    ) -> anyhow::Result<Execution> {
        while let Some(seen) = self.next_event()? {
            match seen {
                Seen::Output(chunk)
                    if chunk.execution_id == id
                        && last_seq.map(|l| chunk.seq > l).unwrap_or(true) =>
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
