//! Test fixture: version v3-invalid of `VersionedProcessor`; see the README's
//! Expectations.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// The fixture processor.
pub struct VersionedProcessor;

/// The label every row of this version carries.
pub const LABEL: &str = "v3-invalid";

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "VersionedProcessor".into(),
            phase: Phase::Analytics,
            version: "3.0.0".into(),
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
            partition_column: "no_such_column".into(),
            key_columns: vec!["n".into()],
            inputs: vec![],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let mut rows = RowSetBuilder::new(&["day", "n", "label"]);
        for n in 0..1 {
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
