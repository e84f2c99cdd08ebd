//! Sample values that the host's unit tests, the integration tests and the
//! benchmarks all build, so that each is written once: a run record. Not
//! used by production code, and never written to a store by itself.

use chrono::{DateTime, NaiveDate};

use crate::runs::{RunRecord, RunStatus, Trigger};

/// A run of `processor` on `data_date` that stands at `status`: the first
/// attempt, with no error, flag or rows, every instant at the Unix epoch,
/// run by host `h` from plugin `x` on the command line. A test overrides
/// what it checks: `RunRecord { rows_written: 3, ..run_record("P", date, Success) }`.
pub fn run_record(processor: &str, data_date: NaiveDate, status: RunStatus) -> RunRecord {
    RunRecord {
        run_id: "r".into(),
        processor: processor.into(),
        phase: None,
        data_date,
        attempt: 1,
        status,
        reason: None,
        error_kind: None,
        error_message: None,
        limit_value: None,
        observed_value: None,
        started_at: DateTime::default(),
        heartbeat_at: DateTime::default(),
        lease_expires_at: DateTime::default(),
        finished_at: None,
        duration_ms: None,
        rows_read: 0,
        rows_written: 0,
        host_id: "h".into(),
        plugin_hash: "x".into(),
        trigger: Trigger::Cli,
        log_lines_dropped: 0,
        peak_memory_bytes: 0,
        flag: None,
        upstream_check: None,
        rows_with_quality_issues: 0,
    }
}
