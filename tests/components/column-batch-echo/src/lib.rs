//! Test fixture: `ColumnBatchEchoProcessor` reads a table of every column
//! type through `read-column-batch` and writes each cell back unchanged;
//! see the README's Expectations. In March it reads through
//! `read-coded-column-batch` instead, with its STRING columns coded (on
//! the 30th, `name` twice, and on the 31st, also the INT64 column `n`:
//! the host refuses both).

use slate_sdk::{
    Date, Field, FieldMode, FieldType, ProcessError, ProcessorInfo, RowSet, RowSetBuilder, Value,
    field, table,
};

/// The table it reads.
pub const INPUT: &str = "slate_test.every_type";

/// The columns of both tables: (name, type, mode).
const COLUMNS: &[(&str, FieldType, FieldMode)] = &[
    ("day", FieldType::Date, FieldMode::Required),
    ("name", FieldType::String, FieldMode::Nullable),
    ("n", FieldType::Int64, FieldMode::Nullable),
    ("x", FieldType::Float64, FieldMode::Nullable),
    ("amount", FieldType::Numeric, FieldMode::Nullable),
    ("flag", FieldType::Bool, FieldMode::Nullable),
    ("at", FieldType::Timestamp, FieldMode::Nullable),
    ("doc", FieldType::Json, FieldMode::Nullable),
    ("born", FieldType::Date, FieldMode::Nullable),
    ("tags", FieldType::String, FieldMode::Repeated),
    ("never_set", FieldType::String, FieldMode::Nullable),
];

/// The schema of both tables.
pub fn schema() -> Vec<Field> {
    COLUMNS
        .iter()
        .map(|(name, kind, mode)| field(name, *kind, *mode, "A column of every type."))
        .collect()
}

fixture_common::processor! {
    ColumnBatchEchoProcessor,
    info: ProcessorInfo {
        key_columns: vec!["name".into()],
        inputs: vec![table(INPUT)],
        ..fixture_common::info(
            "ColumnBatchEchoProcessor",
            "slate_test.every_type_echo",
            schema(),
        )
    },
    process: |date| {
        if date.month == 3 {
            return echo_coded(date);
        }
        let mut names: Vec<&str> = COLUMNS.iter().map(|(name, ..)| *name).collect();
        if (date.month, date.day) == (2, 28) {
            names.push("no_such_column");
        }
        let batch = slate_sdk::read_column_batch(&table(INPUT), date, date, &names)
            .map_err(|e| ProcessError::MissingData(format!("{e:?}")))?;
        let columns = names
            .iter()
            .map(|name| batch.column(name))
            .collect::<Result<Vec<_>, _>>()?;
        let mut output = RowSetBuilder::new(&names);
        for row in 0..batch.len() {
            output.push(
                columns
                    .iter()
                    .map(|column| column.value(row))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(output.finish())
    },
}

/// The STRING columns the March reads code.
const CODED: [&str; 2] = ["name", "never_set"];

/// The echo through `read-coded-column-batch`: every column read, the
/// STRING ones coded, each cell written back as read.
fn echo_coded(date: Date) -> Result<RowSet, ProcessError> {
    let mut coded = CODED.to_vec();
    match date.day {
        30 => coded.push("name"),
        31 => coded.push("n"),
        _ => {}
    }
    let plain: Vec<&str> = COLUMNS
        .iter()
        .map(|(name, ..)| *name)
        .filter(|name| !coded.contains(name))
        .collect();
    let read = slate_sdk::read_coded_column_batch(&table(INPUT), date, date, &plain, &coded)
        .map_err(|e| ProcessError::MissingData(format!("{e:?}")))?;
    let names: Vec<&str> = COLUMNS.iter().map(|(name, ..)| *name).collect();
    let mut output = RowSetBuilder::new(&names);
    for row in 0..read.len() {
        let cell = |name: &str| match read.coded(name) {
            Ok(coded) if coded.is_null(row) => Ok(Value::Null),
            Ok(coded) => coded.string(row).map(Value::string),
            Err(_) => read.batch.column(name)?.value(row),
        };
        output.push(
            names
                .iter()
                .map(|name| cell(name))
                .collect::<Result<_, _>>()?,
        );
    }
    Ok(output.finish())
}
