//! StackStorm's `http-request` runner: one HTTP request, result
//! `{status_code, body, parsed, headers}`.
//!
//! Parameters are looked up among the runner parameters first, then among the
//! action parameters, because StackStorm splits them: `url`, `headers`,
//! `cookies`, `username`, `password`, `allow_redirects`, `verify_ssl_cert`,
//! `http_proxy` and `https_proxy` are runner parameters, while `body`,
//! `method`, `params` and `timeout` are parameters of the action (`core.http`).
//!
//! Semantics follow StackStorm's `HTTPClient`: without `method`, a request
//! with a body is a POST and one without is a GET; redirects are not followed
//! unless `allow_redirects`; status 200-206 is `succeeded`, anything else
//! `failed`; a timeout is status `timeout`; the response body is parsed when
//! its content type is `application/json`. Nothing is streamed as output: the
//! result is the whole story, as in StackStorm.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, USER_AGENT};
use reqwest::{redirect, Method, Proxy};
use serde_json::{json, Map, Value};

use crate::protocol::{RunnerRequest, RunnerStatus};
use crate::pyfmt::{py_json_dumps, py_str};
use crate::{CancelHandle, RunError, RunEvent, RunOutcome};

/// StackStorm's default request timeout, in seconds.
const DEFAULT_TIMEOUT: f64 = 60.0;
/// What `requests` allows before giving up on a redirect chain.
const MAX_REDIRECTS: usize = 30;

pub(crate) fn run(
    req: &RunnerRequest,
    _on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let spec = HttpSpec::from_request(req)?;
    let url = spec.url.clone();
    let timeout_display = spec.timeout_display.clone();
    let client = spec
        .client()
        .map_err(|e| spec.invalid("url", "a usable HTTP request", &e))?;
    let request = spec
        .request(&client)
        .map_err(|e| spec.invalid("url", "a usable HTTP request", &e))?;

    // The request runs on its own thread so a cancel returns at once; the
    // thread ends by itself when the request completes or times out.
    let (tx, rx) = mpsc::channel::<Msg>();
    let cancel_tx = std::sync::Mutex::new(tx.clone());
    let _guard = cancel.on_cancel(move || {
        if let Ok(tx) = cancel_tx.lock() {
            let _ = tx.send(Msg::Canceled);
        }
    });
    thread::spawn(move || {
        let outcome = client.execute(request).and_then(read_response);
        let _ = tx.send(Msg::Done(outcome));
    });

    let (status, result) = match rx.recv() {
        Ok(Msg::Done(Ok(result))) => (status_for(&result), result),
        Ok(Msg::Done(Err(e))) if e.is_timeout() => (
            RunnerStatus::Timeout,
            json!({ "error": format!(
                "HTTP request to {url} timed out after {timeout_display} seconds: {}",
                error_chain(&e)
            ) }),
        ),
        Ok(Msg::Done(Err(e))) => (
            RunnerStatus::Failed,
            json!({ "error": request_error(&url, &e) }),
        ),
        Ok(Msg::Canceled) | Err(_) => (
            RunnerStatus::Canceled,
            json!({ "error": format!("HTTP request to {url} was canceled") }),
        ),
    };
    Ok(RunOutcome {
        status,
        result,
        pid: None,
    })
}

enum Msg {
    Done(reqwest::Result<Value>),
    Canceled,
}

/// StackStorm's `SUCCESS_STATUS_CODES`: 200 to 206.
fn status_for(result: &Value) -> RunnerStatus {
    match result["status_code"].as_u64() {
        Some(200..=206) => RunnerStatus::Succeeded,
        _ => RunnerStatus::Failed,
    }
}

fn read_response(resp: Response) -> reqwest::Result<Value> {
    let status_code = resp.status().as_u16();
    let headers = headers_object(resp.headers());
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
    let bytes = resp.bytes()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (body, parsed) = match content_type.as_deref() {
        Some("application/json") => match serde_json::from_str::<Value>(&text) {
            Ok(v) => (v, true),
            Err(_) => (Value::String(text), false),
        },
        _ => (Value::String(text), false),
    };
    Ok(json!({
        "status_code": status_code,
        "body": body,
        "parsed": parsed,
        "headers": headers,
    }))
}

/// Response headers as one object; repeated headers are joined with ", ",
/// as `requests` does. Names are lower case (HTTP/2 and hyper normalise them).
fn headers_object(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                out.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    Value::Object(out)
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn request_error(url: &str, e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    if e.is_connect() {
        format!(
            "could not connect to {url}: {chain}; check that the server is up and that the \
             host and port in `url` are right"
        )
    } else if e.is_redirect() {
        format!("HTTP request to {url} failed while following redirects: {chain}")
    } else {
        format!("HTTP request to {url} failed: {chain}")
    }
}

/// One request, read from the parameters.
struct HttpSpec<'a> {
    req: &'a RunnerRequest,
    url: String,
    method: Method,
    body: Option<Vec<u8>>,
    /// Set when the body was given as an object or array.
    json_body: bool,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    auth: Option<(String, Option<String>)>,
    allow_redirects: bool,
    verify_ssl_cert: bool,
    timeout: f64,
    /// `timeout` as given, for messages ("1", not "1.0").
    timeout_display: String,
    http_proxy: Option<String>,
    https_proxy: Option<String>,
}

impl<'a> HttpSpec<'a> {
    fn from_request(req: &'a RunnerRequest) -> Result<Self, RunError> {
        let mut spec = HttpSpec {
            req,
            url: String::new(),
            method: Method::GET,
            body: None,
            json_body: false,
            query: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            auth: None,
            allow_redirects: false,
            verify_ssl_cert: true,
            timeout: DEFAULT_TIMEOUT,
            timeout_display: py_str(&json!(DEFAULT_TIMEOUT as u64)),
            http_proxy: None,
            https_proxy: None,
        };
        spec.url = match spec.param("url") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            None => {
                return Err(RunError::MissingRunnerParameter {
                    action_ref: req.action_ref.clone(),
                    name: "url",
                })
            }
            Some(other) => return Err(spec.invalid("url", "a URL string", &other.to_string())),
        };
        spec.headers = spec.pairs("headers")?;
        spec.cookies = spec.pairs("cookies")?;
        spec.query = spec.pairs("params")?;
        spec.body = match spec.param("body") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => {
                // StackStorm re-serialises a string body when the request is
                // declared JSON; a body that is not JSON is sent as given.
                if spec.has_json_content_type() {
                    match serde_json::from_str::<Value>(s) {
                        Ok(v) => Some(py_json_dumps(&v).into_bytes()),
                        Err(_) => Some(s.clone().into_bytes()),
                    }
                } else {
                    Some(s.clone().into_bytes())
                }
            }
            Some(v @ (Value::Object(_) | Value::Array(_))) => {
                spec.json_body = true;
                Some(py_json_dumps(v).into_bytes())
            }
            Some(other) => Some(py_str(other).into_bytes()),
        };
        spec.method = match spec.param("method") {
            None => {
                if spec.body.is_some() {
                    Method::POST
                } else {
                    Method::GET
                }
            }
            Some(Value::String(m)) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| spec.invalid("method", "an HTTP method such as GET or POST", m))?,
            Some(other) => {
                return Err(spec.invalid(
                    "method",
                    "an HTTP method such as GET",
                    &other.to_string(),
                ))
            }
        };
        let username = spec.string("username")?;
        let password = spec.string("password")?;
        if username.is_some() || password.is_some() {
            spec.auth = Some((username.unwrap_or_default(), password));
        }
        spec.allow_redirects = spec.bool("allow_redirects", false)?;
        spec.verify_ssl_cert = spec.bool("verify_ssl_cert", true)?;
        spec.timeout = match spec.param("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.as_f64().filter(|s| s.is_finite() && *s >= 0.0) {
                Some(secs) => {
                    spec.timeout_display = py_str(v);
                    secs
                }
                None => {
                    return Err(spec.invalid("timeout", "a number of seconds >= 0", &v.to_string()))
                }
            },
        };
        spec.http_proxy = spec.string("http_proxy")?;
        spec.https_proxy = spec.string("https_proxy")?;
        match spec.param("proxies") {
            None => {}
            Some(Value::Object(map)) => {
                let get = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
                spec.http_proxy = spec.http_proxy.take().or_else(|| get("http"));
                spec.https_proxy = spec.https_proxy.take().or_else(|| get("https"));
            }
            Some(other) => {
                return Err(spec.invalid(
                    "proxies",
                    "an object {\"http\": URL, \"https\": URL}",
                    &other.to_string(),
                ))
            }
        }
        Ok(spec)
    }

    fn param(&self, name: &str) -> Option<&'a Value> {
        self.req
            .runner_parameters
            .get(name)
            .filter(|v| !v.is_null())
            .or_else(|| {
                self.req
                    .action_parameters
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| &p.value)
                    .filter(|v| !v.is_null())
            })
    }

    fn string(&self, name: &'static str) -> Result<Option<String>, RunError> {
        match self.param(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.invalid(name, "a string", &other.to_string())),
        }
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, RunError> {
        match self.param(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.invalid(name, "true or false", &other.to_string())),
        }
    }

    /// An object parameter as name/value text pairs.
    fn pairs(&self, name: &'static str) -> Result<Vec<(String, String)>, RunError> {
        match self.param(name) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), py_str(v)))
                .collect()),
            Some(other) => Err(self.invalid(name, "an object of name: value", &other.to_string())),
        }
    }

    fn has_json_content_type(&self) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type")
                && v.split(';').next().unwrap_or_default().trim() == "application/json"
        })
    }

    fn invalid(&self, name: &'static str, expected: &'static str, got: &dyn ToString) -> RunError {
        crate::params::invalid_parameter(&self.req.action_ref, name, expected, got.to_string())
    }

    fn client(&self) -> Result<Client, String> {
        install_crypto_provider();
        let mut builder = Client::builder()
            .redirect(if self.allow_redirects {
                redirect::Policy::limited(MAX_REDIRECTS)
            } else {
                redirect::Policy::none()
            })
            .tls_danger_accept_invalid_certs(!self.verify_ssl_cert);
        if self.timeout > 0.0 {
            builder = builder.timeout(Duration::from_secs_f64(self.timeout));
        } else {
            builder = builder.timeout(None);
        }
        if let Some(proxy) = &self.http_proxy {
            builder = builder.proxy(Proxy::http(proxy).map_err(|e| format!("http_proxy: {e}"))?);
        }
        if let Some(proxy) = &self.https_proxy {
            builder = builder.proxy(Proxy::https(proxy).map_err(|e| format!("https_proxy: {e}"))?);
        }
        builder.build().map_err(|e| error_chain(&e))
    }

    fn request(&self, client: &Client) -> Result<reqwest::blocking::Request, String> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| format!("{}: {e}", self.url))?;
        let mut headers = HeaderMap::new();
        let version = env!("CARGO_PKG_VERSION");
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&format!("stormdesk/{version}")).expect("ASCII"),
        );
        // StackStorm tags every request with the action, so servers can trace it.
        let action = self.req.action_ref.rsplit('.').next().unwrap_or_default();
        if let Ok(v) = HeaderValue::from_str(action) {
            headers.insert(HeaderName::from_static("x-stanley-action"), v);
        }
        if self.json_body
            && !self
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("header name `{name}`: {e}"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| format!("value of header `{name}`: {e}"))?;
            headers.insert(name, value);
        }
        if !self.cookies.is_empty() {
            let line = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let value = HeaderValue::from_str(&line).map_err(|e| format!("cookies: {e}"))?;
            headers.insert(COOKIE, value);
        }
        let mut builder = client.request(self.method.clone(), url).headers(headers);
        if !self.query.is_empty() {
            builder = builder.query(&self.query);
        }
        if let Some((user, password)) = &self.auth {
            builder = builder.basic_auth(user, password.as_ref());
        }
        if let Some(body) = &self.body {
            builder = builder.body(body.clone());
        }
        builder.build().map_err(|e| error_chain(&e))
    }
}

/// reqwest is built without a default TLS crypto provider (see Cargo.toml);
/// the first client installs ring for the process.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err: another part of the process installed one first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
