//! What the embedded store checks of a raw input's stored rows before a
//! run reads them: every partition value is a date `YYYY-MM-DD`, and no two
//! rows of one date share the declared key. The host's own loads cannot
//! break either rule; rows written past it (another tool's SQL into the
//! SQLite file) can, and then a row would vanish from every date's read or
//! count twice. So a read of a raw input fails, naming the rows, instead.
//!
//! The check reads the whole table, so its findings are kept until the
//! table changes: until another connection commits (SQLite's
//! `data_version`) or this one writes a row of the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rusqlite::Connection;

use super::quote;
use crate::schema::{TableName, TableSchema};
use crate::store::cells::{StoredCell, parse_date_key};
use crate::store::input::InputError;

/// At most this many duplicated keys are kept per date: enough to name
/// them, not so many that a broken load fills memory. Every date holding
/// one is kept: a cap on the whole table let a date's duplicates go unseen
/// behind those of earlier dates, and its rows count twice.
const MAX_DUPLICATES_PER_DATE: usize = 10;

/// What is wrong with one raw input's stored rows.
#[derive(Debug, Default)]
struct Faults {
    /// The first row whose partition value is not a date: its rowid and
    /// what it holds. It belongs to no date, so every read is refused.
    undated: Option<(i64, StoredCell)>,
    /// Keys held by more than one row of a date: the date and the message.
    duplicates: Vec<(NaiveDate, String)>,
}

/// The findings per raw input, each with the `data_version` it was made at.
#[derive(Default)]
pub(super) struct RawChecks {
    checked: Mutex<HashMap<String, (i64, Arc<Faults>)>>,
}

impl RawChecks {
    /// Forgets the findings of `table`, which this connection just wrote.
    pub(super) fn forget(&self, table: &str) {
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if !checked.is_empty() {
            checked.remove(table);
        }
    }

    /// Refuses a read of `start..=end` of the raw input `table` when a row
    /// has no date, or a date of the range holds one key twice.
    pub(super) fn check(
        &self,
        connection: &Connection,
        table: &TableName,
        schema: &TableSchema,
        (start, end): (NaiveDate, NaiveDate),
        data_version: i64,
    ) -> Result<(), InputError> {
        let key = table.to_string();
        let known = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|(version, _)| *version == data_version)
            .map(|(_, faults)| Arc::clone(faults));
        let faults = match known {
            Some(faults) => faults,
            None => {
                let faults = Arc::new(find_faults(connection, table, schema).map_err(|e| {
                    super::tables::lacking_declared_columns(connection, table, schema)
                        .unwrap_or_else(|| {
                            InputError::Storage(format!("{table}: checking its rows failed: {e}"))
                        })
                })?);
                self.checked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (data_version, Arc::clone(&faults)));
                faults
            }
        };
        if let Some((rowid, found)) = &faults.undated {
            return Err(InputError::Storage(format!(
                "{table} rowid {rowid}: `{}` holds {found}, not a date YYYY-MM-DD of the \
                 calendar: the row belongs to no date, so no read of the table can be whole",
                schema.partition_column
            )));
        }
        let within: Vec<&str> = faults
            .duplicates
            .iter()
            .filter(|(date, _)| (start..=end).contains(date))
            .map(|(_, message)| message.as_str())
            .collect();
        match within.as_slice() {
            [] => Ok(()),
            [first, ..] => Err(InputError::Storage(format!(
                "{table}: {first}{}: a raw input's key ({}) must be unique within a date",
                match within.len() {
                    1 => String::new(),
                    more => format!(" (and {} more keys)", more - 1),
                },
                schema.key_columns.join(", ")
            ))),
        }
    }
}

/// Reads `table` whole for the faults [`RawChecks::check`] refuses.
fn find_faults(
    connection: &Connection,
    table: &TableName,
    schema: &TableSchema,
) -> Result<Faults, rusqlite::Error> {
    let quoted = quote(&table.to_string());
    let partition = quote(&schema.partition_column);
    let undated = connection
        .prepare(&format!(
            "SELECT rowid, {partition} FROM {quoted}
             WHERE {partition} IS NULL OR typeof({partition}) <> 'text'
                OR {partition} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
                OR date({partition}) IS NOT {partition}
             ORDER BY rowid LIMIT 1"
        ))?
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, StoredCell::from(row.get_ref(1)?)))
        })?
        .next()
        .transpose()?;
    let mut duplicates = Vec::new();
    if !schema.key_columns.is_empty() {
        let keys: Vec<String> = schema.key_columns.iter().map(|k| quote(k)).collect();
        let keys = keys.join(", ");
        let mut statement = connection.prepare(&format!(
            "SELECT * FROM (
                 SELECT {partition}, COUNT(*), group_concat(rowid, ', '), {keys},
                        ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {keys}) AS nth
                 FROM {quoted}
                 GROUP BY {partition}, {keys} HAVING COUNT(*) > 1)
             WHERE nth <= {MAX_DUPLICATES_PER_DATE}
             ORDER BY 1"
        ))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let Some(date) = row
                .get::<_, String>(0)
                .ok()
                .and_then(|d| parse_date_key(&d))
            else {
                continue;
            };
            let count: i64 = row.get(1)?;
            let rowids: String = row.get(2)?;
            let key: Vec<String> = schema
                .key_columns
                .iter()
                .enumerate()
                .map(|(index, name)| {
                    Ok(format!(
                        "{name} {}",
                        StoredCell::from(row.get_ref(3 + index)?)
                    ))
                })
                .collect::<Result<_, rusqlite::Error>>()?;
            duplicates.push((
                date,
                format!(
                    "{count} rows (rowids {rowids}) of {} {date} share the key {}",
                    schema.partition_column,
                    key.join(", ")
                ),
            ));
        }
    }
    Ok(Faults {
        undated,
        duplicates,
    })
}
