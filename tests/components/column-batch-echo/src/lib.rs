//! Test fixture: `ColumnBatchEchoProcessor` reads a table of every column
//! type through `read-column-batch` and writes each cell back unchanged;
//! see the README's Expectations.

use slate_sdk::{
    Field, FieldMode, FieldType, ProcessError, ProcessorInfo, RowSetBuilder, field, table,
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
