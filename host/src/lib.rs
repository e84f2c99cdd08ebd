//! Slate: runs analytics and precompute processors as sandboxed WebAssembly
//! components, a fresh instance per processor per date.
//!
//! The host owns everything a processor must not get wrong on its own: run
//! bookkeeping, dependency order, schema validation and the write to the
//! warehouse. A processor only describes itself and turns input rows into
//! output rows.
//!
//! - [`bindings`]: the types generated from `wit/`, which everything else builds on.
//! - [`build`]: `slate build`, a processor folder (Rust, Python, JavaScript) into a component.
//! - [`plugin`]: loading, compiling, caching and instantiating components.
//! - [`registry`]: deployed processor versions, by hash, and the active one.
//! - [`deploy`]: validating, storing and activating a version; rollback.
//! - [`diff`]: row-level differences between two outputs of one processor, by key.
//! - [`shadow`]: a stored version run beside the active one, into a table of its own.
//! - [`catalog`]: which processors exist: bundled, registry, plugin folder.
//! - [`scaffold`]: `slate new`, a processor folder to start from.
//! - [`schema`] and [`rows`]: tables, schemas and the values that cross the boundary.
//! - [`validate`]: checking output rows against a schema before any write.
//! - [`drift`]: additive migrations and refused changes when a live schema differs.
//! - [`quarantine`]: bad rows set aside under the `quarantine` policy.
//! - [`store`]: where tables and run history live: embedded SQLite, BigQuery or PostgreSQL.
//! - [`runs`]: run records and their statuses.
//! - [`phase`]: the pipeline phases processors belong to and runs record.
//! - [`evaluation`]: one checked call of `process`, shared by runs and `slate test`.
//! - [`executor`]: one run of one processor for one date.
//! - [`health`]: the pipeline health report.
//! - [`alerts`]: alert events in the store's outbox, channels, and delivery.
//! - [`grid`]: the processor × date grid the dashboard shows.
//! - [`limits`]: per-run resource limits and their breaches.
//! - [`liveness`]: leases, heartbeats and reaping of stale runs.
//! - [`ownership`]: which processor owns which table; refusals of the rest.
//! - [`outdated`]: the dates a processor's active version has not produced yet.
//! - [`completeness`]: upstream status and lookback gap checks before a run.
//! - [`upstream_check`]: what those checks found, as run history records it.
//! - [`dag`]: ordering processors by their declared dependencies.
//! - [`dates`]: analysis dates, parsed strictly and checked against the range served.
//! - [`config_file`]: reading a section of `slate.toml`, or its defaults.
//! - [`printable`]: text from outside the host (a processor's errors and logs) made safe to print.
//! - [`pipeline`]: running a set of processors for a date, in order.
//! - [`backfill`]: running a range of dates, in dependency order and in parallel.
//! - [`whole_file`]: files written whole or not at all, leaving nothing when a write fails.
//! - [`work_queue`]: a backfill spread over every host that shares a work queue.
//! - [`cluster`]: the hosts sharing a run ledger, as `slate hosts` shows them.
//! - [`schedule`]: `[[schedule]]` cron ticks, each fired once.
//! - [`server`]: `slate serve`, the HTTP service.
//! - [`testing`]: `slate test`, fixtures and golden files.
//! - [`demo`]: the synthetic season and its raw tables.

pub mod alerts;
pub mod backfill;
pub mod bindings;
pub mod build;
pub mod bundled;
pub mod catalog;
pub mod cluster;
pub mod column_batch;
pub mod completeness;
pub mod config_file;
pub mod dag;
pub mod data_dir;
pub mod dates;
pub mod demo;
pub mod deploy;
pub mod diff;
pub mod drift;
pub mod evaluation;
pub mod executor;
pub mod grid;
pub mod health;
pub mod limits;
pub mod liveness;
pub mod outdated;
pub mod ownership;
pub mod phase;
pub mod pipeline;
pub mod plugin;
pub mod printable;
pub mod quarantine;
pub mod registry;
pub mod rows;
pub mod runs;
pub mod scaffold;
pub mod schedule;
pub mod schema;
pub mod server;
pub mod shadow;
pub mod store;
pub mod testing;
pub mod text_codes;
pub mod upstream_check;
pub mod validate;
pub mod whole_file;
pub mod work_queue;
