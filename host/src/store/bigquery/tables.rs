//! BigQuery's tables: created from schemas and partitioned by day, read
//! by date range, replaced a date at a time, and owned by one processor
//! each (`_slate_table_owners` in the history dataset).

use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};

use super::api::Param;
use super::history::{
    TABLE_OWNERS, TABLE_TRANSFERS, string_literal, table_transfers_schema, timestamp_literal,
};
use super::values::{refused_on_read, value_from_cell};
use super::*;
use crate::ownership::{self, HostOwned, OwnedTable, TableOwner, Transfer};
use crate::rows::RowSet;
use crate::schema::{TableName, TableSchema};
use crate::store::input::{InputError, InputSource, TableSpan, selected_columns};
use crate::store::{PartitionCounts, StoreError, Tables, stored_owner, stored_table_name};

impl InputSource for BigQueryStore {
    /// The rows of `span`, with the named columns (all when `None`), in
    /// partition order.
    ///
    /// BigQuery enforces no key, and a raw input is loaded by whatever
    /// tool feeds it, so a read refuses a date that holds one key twice,
    /// naming it: a processor would otherwise count the row twice. The
    /// read fetches each row's date and key for that, which also name a
    /// row whose value cannot be read.
    fn select(&self, span: TableSpan<'_>, names: Option<&[String]>) -> Result<RowSet, InputError> {
        let TableSpan { table, start, end } = span;
        let storage = InputError::from;
        let schema = self
            .live_schema(table)
            .map_err(storage)?
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let columns = selected_columns(table, &schema, names)?;
        let identity = identity_columns(&schema);
        let fetched: Vec<String> = columns
            .iter()
            .map(|c| c.name.as_str())
            .chain(identity.iter().copied())
            .map(|name| format!("`{name}`"))
            .collect();
        let result = self
            .query(
                &format!(
                    "SELECT {} FROM {} WHERE `{p}` BETWEEN @start AND @end ORDER BY `{p}`",
                    fetched.join(", "),
                    self.sql_name(table),
                    p = schema.partition_column
                ),
                &[("start", Param::Date(start)), ("end", Param::Date(end))],
            )
            .map_err(storage)?;
        let mut keys = KeyCheck::new(table, &schema);
        let mut rows = Vec::with_capacity(result.rows.len());
        for (index, cells) in result.rows.iter().enumerate() {
            let identity_cells = cells.get(columns.len()..).unwrap_or_default();
            let row = columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    let unreadable = |what: String| {
                        InputError::Storage(format!(
                            "{table} row {index} ({}), column `{}`: {what}",
                            describe_identity(&identity, identity_cells),
                            column.name
                        ))
                    };
                    let cell = cells.get(i).and_then(Option::as_ref);
                    let value =
                        value_from_cell(column, cell).map_err(|e| unreadable(e.to_string()))?;
                    match (refused_on_read(column, &value), cell) {
                        (Some(why), Some(cell)) => Err(unreadable(format!("holds {cell}: {why}"))),
                        _ => Ok(value),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            keys.add(index, identity_cells);
            rows.push(row);
        }
        keys.finish()?;
        Ok(RowSet {
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            rows,
        })
    }

    fn schema_of(&self, table: &TableName) -> Result<Option<TableSchema>, InputError> {
        self.table_schema(table).map_err(InputError::from)
    }
}

/// The columns that identify a row of `schema`: its partition column,
/// then its key columns (each once).
fn identity_columns(schema: &TableSchema) -> Vec<&str> {
    let mut names = vec![schema.partition_column.as_str()];
    for key in &schema.key_columns {
        if !names.contains(&key.as_str()) {
            names.push(key);
        }
    }
    names
}

/// `game_date "2026-01-07", player_lookup "a"`: a row's date and key as
/// BigQuery returned them.
fn describe_identity(names: &[&str], cells: &[Option<serde_json::Value>]) -> String {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| match cells.get(i).and_then(Option::as_ref) {
            Some(value) => format!("{name} {value}"),
            None => format!("{name} null"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most this many keys held twice are named in one error.
const MAX_NAMED_DUPLICATES: usize = 3;

/// Finds the keys a read's rows hold more than once within a date.
struct KeyCheck<'a> {
    table: &'a TableName,
    schema: &'a TableSchema,
    /// Each identity seen (its cells' JSON text, a key to compare), with
    /// its cells and the rows holding it.
    seen: std::collections::HashMap<String, (&'a [Option<serde_json::Value>], Vec<usize>)>,
}

impl<'a> KeyCheck<'a> {
    fn new(table: &'a TableName, schema: &'a TableSchema) -> Self {
        KeyCheck {
            table,
            schema,
            seen: std::collections::HashMap::new(),
        }
    }

    /// Notes that row `index` of the read holds `identity` (its date and key).
    fn add(&mut self, index: usize, identity: &'a [Option<serde_json::Value>]) {
        if self.schema.key_columns.is_empty() {
            return;
        }
        let text = serde_json::to_string(identity).unwrap_or_default();
        self.seen
            .entry(text)
            .or_insert_with(|| (identity, Vec::new()))
            .1
            .push(index);
    }

    /// Refuses the read when a date holds a key twice, naming the first
    /// few such keys and the rows of the read that hold them.
    fn finish(self) -> Result<(), InputError> {
        let mut held_twice: Vec<(&[Option<serde_json::Value>], Vec<usize>)> = self
            .seen
            .into_values()
            .filter(|(_, rows)| rows.len() > 1)
            .collect();
        if held_twice.is_empty() {
            return Ok(());
        }
        held_twice.sort_by_key(|(_, rows)| rows[0]);
        let names = identity_columns(self.schema);
        let named: Vec<String> = held_twice
            .iter()
            .take(MAX_NAMED_DUPLICATES)
            .map(|(identity, rows)| {
                let rows: Vec<String> = rows.iter().map(usize::to_string).collect();
                format!(
                    "rows {} of the read hold {}",
                    rows.join(", "),
                    describe_identity(&names, identity)
                )
            })
            .collect();
        let more = held_twice.len().saturating_sub(MAX_NAMED_DUPLICATES);
        Err(InputError::Storage(format!(
            "{}: {}{}: a key ({}) must be unique within a date; BigQuery does not enforce \
             it, so mend the rows that loaded it twice, then run again",
            self.table,
            named.join("; "),
            match more {
                0 => String::new(),
                more => format!(" (and {more} more keys)"),
            },
            self.schema.key_columns.join(", ")
        )))
    }
}

impl Tables for BigQueryStore {
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        let recorded = self.table_owner(table)?;
        let adopt = ownership::adopt_as_raw_input(table, recorded.as_ref())?;
        self.ensure_schema(table, schema, true)?;
        if adopt {
            self.record_owner(table, &TableOwner::RawInput, &schema.key_columns)?;
        } else if recorded == Some(TableOwner::RawInput)
            && self.recorded_key(table)? != schema.key_columns
        {
            // Adopted before keys were recorded, or its key changed.
            self.record_key(table, &schema.key_columns)?;
        }
        Ok(())
    }

    fn check_output_table(
        &self,
        table: &TableName,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        self.ensure_schema(table, schema, false)
    }

    fn host_owned(&self) -> HostOwned {
        HostOwned {
            datasets: vec![self.history_dataset.clone()],
            ..HostOwned::default()
        }
    }

    fn sweep_staging(&self, now: DateTime<Utc>) -> Result<Vec<TableName>, StoreError> {
        let cutoff = now - chrono::Duration::from_std(STAGING_MAX_AGE).unwrap_or_default();
        // Staging tables sit beside the tables they load: every owned
        // table's dataset, and the history dataset (quarantine).
        let mut datasets: std::collections::BTreeSet<String> = self
            .table_owners()?
            .into_iter()
            .map(|owned| owned.table.dataset)
            .collect();
        datasets.insert(self.history_dataset.clone());
        let mut dropped = Vec::new();
        for dataset in datasets {
            let names = self
                .block(self.api.list_tables(&format!("{}{dataset}", self.prefix)))
                .map_err(backend)?;
            for name in names {
                if staging_made_at(&name).is_some_and(|made| made < cutoff) {
                    let staging = TableName::new(&dataset, &name);
                    self.block(self.api.delete_table(&self.dataset(&staging), &name))
                        .map_err(backend)?;
                    self.forget(&staging);
                    tracing::info!(%staging, "dropped a staging table a killed run left");
                    dropped.push(staging);
                }
            }
        }
        Ok(dropped)
    }

    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError> {
        self.select_owners("", &[])
    }

    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        Ok(self
            .select_owners(
                "WHERE table_name = @table",
                &[("table", Param::String(table.to_string()))],
            )?
            .into_iter()
            .next()
            .map(|owned| owned.owner))
    }

    fn drop_table(&self, table: &TableName) -> Result<bool, StoreError> {
        if self.live_schema(table)?.is_none() {
            return Ok(false);
        }
        self.block(self.api.delete_table(&self.dataset(table), &table.table))
            .map_err(backend)?;
        self.forget(table);
        self.query(
            &format!(
                "DELETE FROM {} WHERE table_name = @table",
                self.sql_name(&self.history_table(TABLE_OWNERS))
            ),
            &[("table", Param::String(table.to_string()))],
        )?;
        Ok(true)
    }

    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError> {
        if self.live_schema(table)?.is_none() {
            return Err(StoreError::NoSuchTable(table.clone()));
        }
        let transfer = Transfer::new(table, self.table_owner(table)?, to, by);
        let owner_name = |owner: Option<&TableOwner>| {
            owner
                .and_then(TableOwner::processor)
                .map_or("NULL".to_string(), string_literal)
        };
        let script = format!(
            "BEGIN TRANSACTION;
             DELETE FROM {owners} WHERE table_name = {name};
             INSERT INTO {owners} (table_name, owner_kind, owner_name, owner_since, recorded_on)
                 VALUES ({name}, {to_kind}, {to_name}, {at}, DATE({at}));
             INSERT INTO {transfers} (table_name, from_kind, from_name, to_kind, to_name,
                     transferred_at, transferred_by, transferred_on)
                 VALUES ({name}, {from_kind}, {from_name}, {to_kind}, {to_name}, {at},
                     {by}, DATE({at}));
             COMMIT TRANSACTION;",
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            transfers = self.sql_name(&self.history_table(TABLE_TRANSFERS)),
            name = string_literal(&table.to_string()),
            to_kind = string_literal(to.kind()),
            to_name = owner_name(Some(to)),
            from_kind = transfer
                .from
                .as_ref()
                .map_or("NULL".to_string(), |f| string_literal(f.kind())),
            from_name = owner_name(transfer.from.as_ref()),
            at = timestamp_literal(transfer.at),
            by = string_literal(by),
        );
        self.query(&script, &[])?;
        Ok(transfer)
    }

    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT table_name, from_kind, from_name, to_kind, to_name, transferred_at,
                     transferred_by
                 FROM {} ORDER BY transferred_at",
                self.sql_name(&self.history_table(TABLE_TRANSFERS))
            ),
            &[],
        )?;
        let schema = table_transfers_schema();
        result
            .rows
            .iter()
            .map(|cells| {
                let text = |i: usize| text_cell(cells, i).map(str::to_string);
                let owner = |kind: Option<String>, name: Option<String>| {
                    kind.map(|kind| stored_owner(&kind, name.as_deref()))
                        .transpose()
                };
                let at = value_from_cell(&schema.columns[5], cells.get(5).and_then(Option::as_ref))
                    .map_err(StoreError::backend)?;
                Ok(Transfer {
                    table: stored_table_name(text_cell(cells, 0).unwrap_or_default())?,
                    from: owner(text(1), text(2))?,
                    to: owner(text(3), text(4))?
                        .ok_or_else(|| StoreError::backend("a transfer without an owner"))?,
                    at: timestamp_of(&at)?,
                    by: text(6).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError> {
        Ok(self.live_schema(table)?.map(|s| s.as_ref().clone()))
    }

    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        let schema = self
            .live_schema(table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let staging = if rows.rows.is_empty() {
            None
        } else {
            Some(self.stage(table, &schema, rows)?)
        };
        let mut script = String::from("BEGIN TRANSACTION;\n");
        if !dates.is_empty() {
            script.push_str(&self.delete_dates(table, &schema, dates));
        }
        if let Some(staging) = &staging {
            script.push_str(&self.insert_from(table, staging, &schema));
        }
        script.push_str("\nCOMMIT TRANSACTION;");
        let result = self.replace_in_transaction(table, &script);
        if let Some(staging) = &staging {
            self.drop_staging(staging);
        }
        result.map(|_| rows.rows.len())
    }

    fn partition_counts_within(
        &self,
        table: &TableName,
        dates: Option<RangeInclusive<NaiveDate>>,
    ) -> Result<PartitionCounts, StoreError> {
        let schema = self
            .live_schema(table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let p = &schema.partition_column;
        let (within, bounds) = match dates {
            Some(dates) => (
                format!("WHERE `{p}` BETWEEN @first AND @last"),
                vec![
                    ("first", Param::Date(*dates.start())),
                    ("last", Param::Date(*dates.end())),
                ],
            ),
            None => (String::new(), Vec::new()),
        };
        let result = self.query(
            &format!(
                "SELECT `{p}`, COUNT(*) FROM {} {within} GROUP BY `{p}` ORDER BY `{p}`",
                self.sql_name(table),
            ),
            &bounds,
        )?;
        result
            .rows
            .iter()
            .map(|cells| {
                let date =
                    text_cell(cells, 0).and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok());
                let count = text_cell(cells, 1).and_then(|t| t.parse().ok());
                date.zip(count).ok_or_else(|| {
                    StoreError::backend(format!("unreadable partition count of {table}: {cells:?}"))
                })
            })
            .collect()
    }

    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError> {
        let Some(schema) = self.live_schema(table)? else {
            return Ok(0);
        };
        let result = self.query(
            &format!(
                "SELECT COUNT(*) FROM {} WHERE `{}` = @date",
                self.sql_name(table),
                schema.partition_column
            ),
            &[("date", Param::Date(date))],
        )?;
        let count = result
            .rows
            .first()
            .and_then(|cells| text_cell(cells, 0))
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| StoreError::backend(format!("no row count for {table} on {date}")))?;
        Ok(count)
    }
}
