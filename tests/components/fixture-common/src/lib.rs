//! What every test fixture processor shares unless it says otherwise: an
//! `info` that reads nothing and blocks on everything, and rows numbered
//! from 0 under a `day` and an `n` column. A fixture (or a fixture family's
//! own common crate) is this plus what makes it that fixture, written with
//! struct update syntax over [`info`].

use slate_sdk::{
    BadRowPolicy, Date, Field, FieldMode, FieldType, GapPolicy, Lookback, Phase, ProcessorInfo,
    RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// `info` for a fixture named `name` writing `output` (`dataset.table`)
/// with `schema`: an analytics processor at version 0.0.1, partitioned by
/// `day` and keyed by `n`, that reads nothing, has no upstream and no
/// lookback, blocks on a missing upstream or a gap, and fails its run on
/// a bad row.
pub fn info(name: &str, output: &str, schema: Vec<Field>) -> ProcessorInfo {
    ProcessorInfo {
        name: name.into(),
        phase: Phase::Analytics,
        version: "0.0.1".into(),
        output_table: table(output),
        schema,
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

/// The schema of numbered rows: `day` (the analysis date) and `n` (the
/// row number), both REQUIRED, then `more`.
pub fn numbered_schema(more: impl IntoIterator<Item = Field>) -> Vec<Field> {
    let mut schema = vec![
        field(
            "day",
            FieldType::Date,
            FieldMode::Required,
            "The analysis date.",
        ),
        field("n", FieldType::Int64, FieldMode::Required, "Row number."),
    ];
    schema.extend(more);
    schema
}

/// `count` rows for `date` under `columns`, which begin with `day` and
/// `n`: row `n` holds `date`, `n`, then the values `more`.
pub fn numbered_rows(date: Date, count: i64, columns: &[&str], more: &[Value]) -> RowSet {
    let mut rows = RowSetBuilder::new(columns);
    for n in 0..count {
        let mut row = vec![Value::date(date), Value::int64(n)];
        row.extend_from_slice(more);
        rows.push(row);
    }
    rows.finish()
}
