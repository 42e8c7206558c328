//! A WS-Management endpoint on 127.0.0.1 for the WinRM runners' tests: no
//! Windows host exists here, so this speaks the subset of the protocol
//! pywinrm uses (MS-WSMV's remote shell) over HTTP with Basic
//! authentication: Create (a shell, with its environment, working directory
//! and codepage), Command, Receive (stdout/stderr as base64 streams, then
//! `CommandState/Done` with the exit code; `w:TimedOut` faults while a
//! command runs past the request's `OperationTimeout`), Signal and Delete,
//! each answered with `RelatesTo` = the request's `MessageID`.
//!
//! What a command prints and returns comes from the test's handler; every
//! request is recorded ([`Seen`]) for the test to check what reached the
//! "host". Also used by the engine's tests (`#[path]`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

const SHELL_NS: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
const DONE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";
const RUNNING: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running";

/// A command as the "host" got it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub command: String,
    /// The script of `powershell -encodedcommand B64`, decoded from base64
    /// UTF-16LE; `None` for other commands.
    pub powershell: Option<String>,
    /// The shell's environment (`rsp:Environment`), in order.
    pub env: Vec<(String, String)>,
    /// The shell's `rsp:WorkingDirectory`.
    pub cwd: Option<String>,
}

/// What a command does: output pieces (one per Receive), then the exit code;
/// or it runs until signaled.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// `(stdout, stderr)` per Receive response.
    pub chunks: Vec<(String, String)>,
    pub exit_code: i32,
    /// Never finishes: every Receive waits for the `OperationTimeout` and
    /// answers with the `w:TimedOut` fault.
    pub hang: bool,
}

impl Reply {
    pub fn out(stdout: &str, exit_code: i32) -> Reply {
        Reply {
            chunks: vec![(stdout.to_string(), String::new())],
            exit_code,
            hang: false,
        }
    }
}

/// One request the endpoint handled.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// A request with missing or wrong Basic credentials (answered 401).
    Unauthorized,
    Create {
        shell: String,
        env: Vec<(String, String)>,
        cwd: Option<String>,
        codepage: Option<String>,
    },
    Command {
        shell: String,
        invocation: Invocation,
    },
    Receive {
        shell: String,
    },
    Signal {
        shell: String,
        code: String,
    },
    Delete {
        shell: String,
    },
}

type Handler = dyn Fn(&Invocation) -> Reply + Send + Sync;

struct Shell {
    env: Vec<(String, String)>,
    cwd: Option<String>,
}

struct Running {
    reply: Reply,
    next: usize,
    signaled: bool,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    shells: HashMap<String, Shell>,
    commands: HashMap<String, Running>,
}

struct Shared {
    user: String,
    password: String,
    handler: Box<Handler>,
    state: Mutex<State>,
    changed: Condvar,
    ids: AtomicU64,
}

pub struct Endpoint {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Endpoint {
    /// Starts the endpoint; it accepts `user` / `password` with Basic auth.
    pub fn start(
        user: &str,
        password: &str,
        handler: impl Fn(&Invocation) -> Reply + Send + Sync + 'static,
    ) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the WS-Man endpoint");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            user: user.into(),
            password: password.into(),
            handler: Box::new(handler),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            ids: AtomicU64::new(1),
        });
        let s = shared.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                thread::spawn(move || serve(conn, &s));
            }
        });
        Endpoint { port, shared }
    }

    /// Everything handled so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.state.lock().unwrap().seen.clone()
    }

    /// The commands the "host" ran, in order.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Command { invocation, .. } => Some(invocation),
                _ => None,
            })
            .collect()
    }

    /// Waits until `pred` holds for the requests seen (or panics after `wait`).
    pub fn wait_until(&self, wait: Duration, pred: impl Fn(&[Seen]) -> bool) {
        let deadline = Instant::now() + wait;
        let mut state = self.shared.state.lock().unwrap();
        while !pred(&state.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the WS-Man endpoint did not see what the test waited for; seen: {:#?}",
                state.seen
            );
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

fn serve(conn: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let expected = format!(
            "Basic {}",
            B64.encode(format!("{}:{}", shared.user, shared.password))
        );
        let (status, xml) = if headers.get("authorization") != Some(&expected) {
            record(shared, Seen::Unauthorized);
            ("401 Unauthorized", String::new())
        } else {
            handle(shared, &String::from_utf8_lossy(&body))
        };
        let mut response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n\
             Content-Length: {}\r\n",
            xml.len()
        );
        if status.starts_with("401") {
            response.push_str("WWW-Authenticate: Basic realm=\"WSMAN\"\r\n");
        }
        response.push_str("\r\n");
        response.push_str(&xml);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn record(shared: &Shared, seen: Seen) {
    shared.state.lock().unwrap().seen.push(seen);
    shared.changed.notify_all();
}

fn text_of<'a>(doc: &'a roxmltree::Document, name: &str) -> Option<&'a str> {
    doc.descendants()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text())
}

fn attr_node<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    doc.descendants().find(|n| n.tag_name().name() == name)
}

fn handle(shared: &Shared, body: &str) -> (&'static str, String) {
    let doc = roxmltree::Document::parse(body).expect("pywinrm sent XML");
    let action = text_of(&doc, "Action").unwrap_or_default().to_string();
    let message_id = text_of(&doc, "MessageID").unwrap_or_default().to_string();
    let shell_id = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Selector" && n.attribute("Name") == Some("ShellId"))
        .and_then(|n| n.text())
        .map(str::to_string);
    let op_timeout = text_of(&doc, "OperationTimeout")
        .and_then(|t| t.strip_prefix("PT")?.strip_suffix('S')?.parse::<f64>().ok())
        .unwrap_or(20.0);
    let id = || {
        let n = shared.ids.fetch_add(1, Ordering::SeqCst);
        format!("{n:08X}-AAAA-4BBB-8CCC-{n:012X}")
    };
    let verb = action.rsplit('/').next().unwrap_or_default();
    match verb {
        "Create" => {
            let shell = id();
            let env: Vec<(String, String)> = doc
                .descendants()
                .filter(|n| n.tag_name().name() == "Variable")
                .map(|n| {
                    (
                        n.attribute("Name").unwrap_or_default().to_string(),
                        n.text().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let cwd = text_of(&doc, "WorkingDirectory").map(str::to_string);
            let codepage = doc
                .descendants()
                .find(|n| {
                    n.tag_name().name() == "Option" && n.attribute("Name") == Some("WINRS_CODEPAGE")
                })
                .and_then(|n| n.text())
                .map(str::to_string);
            {
                let mut state = shared.state.lock().unwrap();
                state.shells.insert(
                    shell.clone(),
                    Shell {
                        env: env.clone(),
                        cwd: cwd.clone(),
                    },
                );
                state.seen.push(Seen::Create {
                    shell: shell.clone(),
                    env,
                    cwd,
                    codepage,
                });
            }
            shared.changed.notify_all();
            let body = format!(
                "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address>\
                 <a:ReferenceParameters><w:ResourceURI>{SHELL_NS}/cmd</w:ResourceURI>\
                 <w:SelectorSet><w:Selector Name=\"ShellId\">{shell}</w:Selector>\
                 </w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
            );
            ("200 OK", envelope(&message_id, "CreateResponse", &body))
        }
        "Command" => {
            let shell = shell_id.expect("Command names its shell");
            let command = text_of(&doc, "Command").unwrap_or_default().to_string();
            let powershell = command
                .strip_prefix("powershell -encodedcommand ")
                .map(decode_ps);
            let (env, cwd) = {
                let state = shared.state.lock().unwrap();
                let s = state
                    .shells
                    .get(&shell)
                    .expect("Command in a shell that exists");
                (s.env.clone(), s.cwd.clone())
            };
            let invocation = Invocation {
                command,
                powershell,
                env,
                cwd,
            };
            let reply = (shared.handler)(&invocation);
            let command_id = id();
            {
                let mut state = shared.state.lock().unwrap();
                state.commands.insert(
                    command_id.clone(),
                    Running {
                        reply,
                        next: 0,
                        signaled: false,
                    },
                );
                state.seen.push(Seen::Command { shell, invocation });
            }
            shared.changed.notify_all();
            let body = format!(
                "<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>\
                 </rsp:CommandResponse>"
            );
            ("200 OK", envelope(&message_id, "CommandResponse", &body))
        }
        "Receive" => {
            let shell = shell_id.expect("Receive names its shell");
            let command_id = attr_node(&doc, "DesiredStream")
                .and_then(|n| n.attribute("CommandId"))
                .unwrap_or_default()
                .to_string();
            record(shared, Seen::Receive { shell });
            let mut state = shared.state.lock().unwrap();
            let hang = state
                .commands
                .get(&command_id)
                .is_some_and(|c| c.reply.hang);
            if hang {
                // A running command: no output within the operation timeout.
                let wait = Duration::from_secs_f64(op_timeout);
                let (s, _) = shared
                    .changed
                    .wait_timeout_while(state, wait, |s| {
                        !s.commands.get(&command_id).is_some_and(|c| c.signaled)
                    })
                    .unwrap();
                drop(s);
                return ("500 Internal Server Error", timed_out(&message_id));
            }
            let running = state.commands.get_mut(&command_id).expect("known command");
            let chunk = running.reply.chunks.get(running.next).cloned();
            running.next += 1;
            let done = running.next >= running.reply.chunks.len();
            let mut body = String::from("<rsp:ReceiveResponse>");
            if let Some((out, err)) = chunk {
                for (name, data) in [("stdout", out), ("stderr", err)] {
                    if !data.is_empty() {
                        body.push_str(&format!(
                            "<rsp:Stream Name=\"{name}\" CommandId=\"{command_id}\">{}</rsp:Stream>",
                            B64.encode(data.as_bytes())
                        ));
                    }
                }
            }
            if done {
                body.push_str(&format!(
                    "<rsp:Stream Name=\"stdout\" CommandId=\"{command_id}\" End=\"true\"></rsp:Stream>\
                     <rsp:Stream Name=\"stderr\" CommandId=\"{command_id}\" End=\"true\"></rsp:Stream>\
                     <rsp:CommandState CommandId=\"{command_id}\" State=\"{DONE}\">\
                     <rsp:ExitCode>{}</rsp:ExitCode></rsp:CommandState>",
                    running.reply.exit_code
                ));
            } else {
                body.push_str(&format!(
                    "<rsp:CommandState CommandId=\"{command_id}\" State=\"{RUNNING}\"/>"
                ));
            }
            body.push_str("</rsp:ReceiveResponse>");
            ("200 OK", envelope(&message_id, "ReceiveResponse", &body))
        }
        "Signal" => {
            let shell = shell_id.expect("Signal names its shell");
            let signal = attr_node(&doc, "Signal");
            let command_id = signal
                .and_then(|n| n.attribute("CommandId"))
                .unwrap_or_default()
                .to_string();
            let code = text_of(&doc, "Code").unwrap_or_default().to_string();
            {
                let mut state = shared.state.lock().unwrap();
                if let Some(c) = state.commands.get_mut(&command_id) {
                    c.signaled = true;
                }
                state.seen.push(Seen::Signal { shell, code });
            }
            shared.changed.notify_all();
            (
                "200 OK",
                envelope(&message_id, "SignalResponse", "<rsp:SignalResponse/>"),
            )
        }
        "Delete" => {
            let shell = shell_id.expect("Delete names its shell");
            {
                let mut state = shared.state.lock().unwrap();
                state.shells.remove(&shell);
                state.seen.push(Seen::Delete { shell });
            }
            shared.changed.notify_all();
            ("200 OK", envelope(&message_id, "DeleteResponse", ""))
        }
        other => panic!("the WS-Man endpoint does not speak `{other}` ({action})"),
    }
}

fn decode_ps(b64: &str) -> String {
    let bytes = B64.decode(b64.trim()).expect("-encodedcommand is base64");
    assert!(
        bytes.len().is_multiple_of(2),
        "UTF-16LE has an even number of bytes"
    );
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).expect("-encodedcommand is UTF-16LE")
}

fn envelope(relates_to: &str, action: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
         xmlns:x=\"http://schemas.xmlsoap.org/ws/2004/09/transfer\" \
         xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" \
         xmlns:rsp=\"{SHELL_NS}\">\
         <s:Header><a:Action>{SHELL_NS}/{action}</a:Action>\
         <a:MessageID>uuid:00000000-0000-4000-8000-000000000000</a:MessageID>\
         <a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>\
         <a:RelatesTo>{relates_to}</a:RelatesTo></s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// The fault a Receive gets when the command printed nothing within the
/// operation timeout (WSMan fault code 2150858793).
fn timed_out(relates_to: &str) -> String {
    let body = "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>\
                <s:Value>w:TimedOut</s:Value></s:Subcode></s:Code><s:Reason>\
                <s:Text xml:lang=\"en-US\">The WS-Management service cannot complete the \
                operation within the time specified in OperationTimeout.</s:Text></s:Reason>\
                <s:Detail><f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" \
                Code=\"2150858793\" Machine=\"127.0.0.1\"><f:Message>The WS-Management service \
                cannot complete the operation within the time specified in OperationTimeout.\
                </f:Message></f:WSManFault></s:Detail></s:Fault>";
    envelope(relates_to, "fault", body)
}
