//! Integration tests of stormdesk-runner: real processes, files and sockets.

mod binary;
mod cancel;
mod errors;
mod fuzz;
mod http;
mod python;
mod remote;
mod remote_parallel;
mod serving;
mod shell_cmd;
mod shell_script;
mod sshd;
mod sudo;
mod support;
mod winrm;
mod wsman;
