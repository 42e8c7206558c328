//! Rehearsal-style tests of the conductor (Orquesta's own testing style):
//! a workflow, an input, a script of mocked task results, and the expected
//! request sequence, status, output and errors.

mod rehearsal;

mod basics;
mod commands;
mod context;
mod control;
mod expressions;
mod fuzz;
mod inspection;
mod items;
mod parallel;
mod rerun;
mod retry;
mod spec;
mod yaql_diff;
mod yaql_examples;
mod yaql_limits;
