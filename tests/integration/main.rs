//! Slate's integration tests: real components built from source, run
//! through the real host against a real SQLite store, and the real `slate`
//! binary for the command line.

mod alert_receiver;
mod alerts;
mod backfill;
mod bad_rows;
mod bigquery;
mod bookkeeping;
mod cli;
mod cluster;
mod column_batch;
mod contract;
mod dashboard;
mod dashboard_browser;
mod emulator;
mod exhaustion;
mod foundation;
mod hardening;
mod history_backends;
mod isolation;
mod languages;
mod multi_memory;
mod outdated;
mod pipeline;
mod plugin_test;
mod postgres_server;
mod properties;
mod registry;
mod sandbox;
mod schedules;
mod serve;
mod serve_process;
mod shadow;
mod support;
