//! What every version of the `VersionedProcessor` fixture shares: its
//! `info` and its rows. Each version crate is this plus what makes it that
//! version (a version string, a row count and label, or a defect).

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Lookback, Phase, ProcessorInfo, RowSet,
    RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// A valid `info` of `VersionedProcessor` at `version`.
pub fn info(version: &str) -> ProcessorInfo {
    ProcessorInfo {
        name: "VersionedProcessor".into(),
        phase: Phase::Analytics,
        version: version.into(),
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
        upstream: vec![],
        lookback: Lookback::None,
        upstream_policy: UpstreamPolicy::Block,
        gap_policy: GapPolicy::Block,
        bad_row_policy: BadRowPolicy::FailRun,
    }
}

/// `count` rows for `date`, each labelled with the version that wrote it.
pub fn rows(date: Date, count: i64, label: &str) -> RowSet {
    let mut rows = RowSetBuilder::new(&["day", "n", "label"]);
    for n in 0..count {
        rows.push(vec![
            Value::date(date),
            Value::int64(n),
            Value::string(label),
        ]);
    }
    rows.finish()
}
