//! Hostile test fixture `WideOutput`: returns as many rows, of as many
//! INT64 columns, as its control row says (`rows`, `columns`), to push
//! past wasmtime's default bound on data copied out of a guest.

use slate_sdk::{FieldMode, FieldType, RowSet, Value, field};

/// The widest output it declares: `day`, `n`, then `c2` … `c31`.
const COLUMNS: usize = 32;

fn column_names() -> Vec<String> {
    let mut names = vec!["day".to_string(), "n".to_string()];
    names.extend((2..COLUMNS).map(|i| format!("c{i}")));
    names
}

fixture_common::processor! {
    WideOutput,
    info: {
        let mut info = hostile_common::info("WideOutput", "hostile_wide_output");
        for name in &column_names()[2..] {
            info.schema.push(field(
                name,
                FieldType::Int64,
                FieldMode::Nullable,
                "Filler.",
            ));
        }
        info
    },
    process: |date| {
        let rows = hostile_common::control(date, "rows")?;
        let columns = (hostile_common::control(date, "columns")? as usize).clamp(2, COLUMNS);
        let names = column_names()[..columns].to_vec();
        let rows = (0..rows)
            .map(|n| {
                let mut row = Vec::with_capacity(columns);
                row.push(Value::date(date));
                row.push(Value::int64(n));
                row.extend((2..columns).map(|c| Value::int64(n * c as i64)));
                row
            })
            .collect();
        Ok(RowSet {
            columns: names,
            rows,
        })
    },
}
