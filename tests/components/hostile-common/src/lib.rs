//! What every hostile test processor shares: its `info` and well-formed
//! rows. Each hostile component is this plus one bad behaviour.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Lookback, Phase, ProcessorInfo, RowSet,
    RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// The one table every hostile processor may read.
pub const CONTROL: &str = "slate_test.hostile_control";

/// The columns of every hostile processor's output.
pub const COLUMNS: [&str; 2] = ["day", "n"];

/// `info` for a hostile processor named `name` that declares someone
/// else's table `output` (`dataset.table`) with that table's `schema`,
/// partition and keys, and reads nothing.
pub fn impostor(
    name: &str,
    output: &str,
    schema: Vec<slate_sdk::Field>,
    partition: &str,
    keys: &[&str],
) -> ProcessorInfo {
    ProcessorInfo {
        name: name.into(),
        output_table: table(output),
        schema,
        partition_column: partition.into(),
        key_columns: keys.iter().map(|k| (*k).to_string()).collect(),
        inputs: vec![],
        ..info(name, "unused")
    }
}

/// `info` for a hostile processor named `name`, writing `slate_test.<table>`.
pub fn info(name: &str, table_name: &str) -> ProcessorInfo {
    ProcessorInfo {
        name: name.into(),
        phase: Phase::Analytics,
        version: "0.0.1".into(),
        output_table: table(&format!("slate_test.{table_name}")),
        schema: vec![
            field(
                "day",
                FieldType::Date,
                FieldMode::Required,
                "The analysis date.",
            ),
            field("n", FieldType::Int64, FieldMode::Required, "Row number."),
        ],
        partition_column: "day".into(),
        key_columns: vec!["n".into()],
        inputs: vec![table(CONTROL)],
        upstream: vec![],
        lookback: Lookback::None,
        upstream_policy: UpstreamPolicy::Block,
        gap_policy: GapPolicy::Block,
        bad_row_policy: BadRowPolicy::FailRun,
    }
}

/// The value of `column` in the control table's row for `date`: how the
/// test tells a hostile processor how hard to push (a port, a row count).
pub fn control(date: Date, column: &str) -> Result<i64, slate_sdk::ProcessError> {
    use slate_sdk::{Columns, ProcessError, RowExt};
    let rows = slate_sdk::read_rows(&table(CONTROL), date, date)?;
    let index = Columns::new(&rows).index(column)?;
    let row = rows
        .rows
        .first()
        .ok_or_else(|| ProcessError::MissingData(format!("no control row for {date:?}")))?;
    row.int64(index, column)
}

/// `count` valid rows for `date`.
pub fn rows(date: Date, count: i64) -> RowSet {
    let mut rows = RowSetBuilder::new(&COLUMNS);
    for n in 0..count {
        rows.push(vec![Value::date(date), Value::int64(n)]);
    }
    rows.finish()
}
