//! Benchmark component `WaitingProcessor`: waits 40 ms (a host call, as a
//! processor waiting on I/O would) and writes one row for its date. It
//! uses no CPU while it waits, so a backfill of it over several hosts on
//! two cores shows how the work spreads, not how the cores are shared.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// How long each run waits.
pub const WAIT: std::time::Duration = std::time::Duration::from_millis(40);

/// The waiting processor.
pub struct WaitingProcessor;

impl Guest for WaitingProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "WaitingProcessor".into(),
            phase: Phase::Analytics,
            version: "0.0.1".into(),
            output_table: table("slate_bench.waiting"),
            schema: vec![field(
                "day",
                FieldType::Date,
                FieldMode::Required,
                "The date.",
            )],
            partition_column: "day".into(),
            key_columns: vec![],
            inputs: vec![],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        std::thread::sleep(WAIT);
        let mut rows = RowSetBuilder::new(&["day"]);
        rows.push(vec![Value::date(date)]);
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(WaitingProcessor);
