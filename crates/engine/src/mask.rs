//! Secret masking lives with the runner, which masks what it reports; the
//! engine masks again what it stores (see `stormdesk_runner::mask`).

pub use stormdesk_runner::mask::*;
