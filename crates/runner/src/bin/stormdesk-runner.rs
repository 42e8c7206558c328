//! `stormdesk-runner`: runs one action for the engine (see `stormdesk_runner::process`).

fn main() -> std::process::ExitCode {
    stormdesk_runner::process::main()
}
