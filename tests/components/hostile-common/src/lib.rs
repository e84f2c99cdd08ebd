//! What every hostile test processor shares: its `info` and well-formed
//! rows. Each hostile component is this plus one bad behaviour.

use slate_sdk::{Date, ProcessorInfo, RowSet, table};

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
        partition_column: partition.into(),
        key_columns: keys.iter().map(|k| (*k).to_string()).collect(),
        ..fixture_common::info(name, output, schema)
    }
}

/// `info` for a hostile processor named `name` that writes numbered rows
/// to `slate_test.<table_name>` and may read the control table.
pub fn info(name: &str, table_name: &str) -> ProcessorInfo {
    ProcessorInfo {
        inputs: vec![table(CONTROL)],
        ..fixture_common::info(
            name,
            &format!("slate_test.{table_name}"),
            fixture_common::numbered_schema([]),
        )
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
    fixture_common::numbered_rows(date, count, &COLUMNS, &[])
}
