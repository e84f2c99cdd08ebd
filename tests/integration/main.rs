//! Slate's integration tests: real components built from source, run
//! through the real host against a real SQLite store, and the real `slate`
//! binary for the command line.

mod backfill;
mod bookkeeping;
mod cli;
mod foundation;
mod pipeline;
mod plugin_test;
mod sandbox;
mod serve;
mod serve_process;
mod support;
