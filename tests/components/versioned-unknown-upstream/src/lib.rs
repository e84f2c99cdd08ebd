//! Test fixture: a version of `VersionedProcessor` that depends on a
//! processor nobody has; see the README's Expectations.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// The fixture processor.
pub struct VersionedProcessor;

/// The label every row of this version carries.
pub const LABEL: &str = "unknown-upstream";

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "VersionedProcessor".into(),
            phase: Phase::Analytics,
            version: "4.0.0".into(),
            output_table: table("slate_test.versioned"),
            schema: vec![
                field(
                    "day",
                    FieldType::Date,
                    FieldMode::Required,
                    "The analysis date.",
                ),
                field("n", FieldType::Int64, FieldMode::Required, "Row number."),
                field(
                    "label",
                    FieldType::String,
                    FieldMode::Required,
                    "The version that wrote the row.",
                ),
            ],
            partition_column: "day".into(),
            key_columns: vec!["n".into()],
            inputs: vec![],
            upstream: vec!["NoSuchProcessor".into()],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let mut rows = RowSetBuilder::new(&["day", "n", "label"]);
        for n in 0..2 {
            rows.push(vec![
                Value::date(date),
                Value::int64(n),
                Value::string(LABEL),
            ]);
        }
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(VersionedProcessor);
