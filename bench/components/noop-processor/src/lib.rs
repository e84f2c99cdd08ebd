//! Benchmark component `NoopProcessor`: returns no rows and reads nothing,
//! so a run of it costs only what the host adds.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, field, table,
};

/// The no-op processor.
pub struct NoopProcessor;

impl Guest for NoopProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "NoopProcessor".into(),
            phase: Phase::Analytics,
            version: "0.0.1".into(),
            output_table: table("slate_bench.noop"),
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

    fn process(_date: Date) -> Result<RowSet, ProcessError> {
        Ok(RowSetBuilder::new(&["day"]).finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(NoopProcessor);
