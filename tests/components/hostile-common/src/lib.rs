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

/// Reads `column` of `table` from `start` to `end` through every read
/// function the host offers, each of which the host must refuse with the
/// error `refused` picks out (the name `refusal` says, e.g.
/// `ReadError::InvalidRange`). A read that gets through is written out as
/// rows, one more than it read, so the run leaves rows behind; when every
/// read is refused, the run fails naming the refusal, each function and
/// the host's first answer.
pub fn read_every_way(
    date: Date,
    table_name: &str,
    (start, end): (Date, Date),
    column: &str,
    (refusal, refused): (&str, fn(&slate_sdk::ReadError) -> Option<&String>),
) -> Result<RowSet, slate_sdk::ProcessError> {
    use slate_sdk::ProcessError;
    let read_from = table(table_name);
    let columns = [column];
    let reads = [
        (
            "read-rows",
            slate_sdk::read_rows(&read_from, start, end).map(|r| r.rows.len()),
        ),
        (
            "read-columns",
            slate_sdk::read_columns(&read_from, start, end, &columns).map(|r| r.rows.len()),
        ),
        (
            "read-column-batch",
            slate_sdk::read_column_batch(&read_from, start, end, &columns).map(|b| b.len()),
        ),
        (
            "read-coded-column-batch",
            slate_sdk::read_coded_column_batch(&read_from, start, end, &columns, &[] as &[&str])
                .map(|b| b.len()),
        ),
    ];
    let mut functions = Vec::new();
    let mut first_answer = String::new();
    for (function, read) in reads {
        match read {
            Ok(rows) => return Ok(self::rows(date, rows as i64 + 1)),
            Err(error) => match refused(&error) {
                Some(answer) => {
                    functions.push(function);
                    if first_answer.is_empty() {
                        first_answer = answer.clone();
                    }
                }
                None => return Err(ProcessError::Internal(format!("{function}: {error:?}"))),
            },
        }
    }
    Err(ProcessError::Internal(format!(
        "refused: {refusal} by {}: {first_answer}",
        functions.join(", ")
    )))
}
