//! Integration tests of stormdesk-runner: real processes, files and sockets.

mod binary;
mod cancel;
mod errors;
mod python;
mod shell_cmd;
mod shell_script;
mod support;
