//! `PlayerCompositeFactorsProcessor` as WASM against the same code compiled
//! natively, on a season's data.
//!
//! Both read the same rows, and the same columns, from memory: the WASM run
//! through the host's `read-columns` (copying values into the guest), the
//! native run through a closure that clones them. Both then parse, compute and build the output.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use slate::bundled::PLUGINS;
use slate::plugin::sandbox::{InputError, InputSource, RunIdentity, positions_of};
use slate::plugin::{RunLimits, Runtime};
use slate::rows::{RowSet, Scalar, Value, naive_date};
use slate::schema::TableName;

use crate::backfill::SeasonStore;
use crate::convert::rows_to_guest;
use crate::report::Report;
use crate::{Effort, median, time};

/// Every row of the tables a processor reads, kept in memory.
struct Preloaded {
    tables: BTreeMap<TableName, (usize, RowSet)>,
}

fn partition_date(row: &[Value], index: usize) -> Option<NaiveDate> {
    match row.get(index) {
        Some(Value::Scalar(Scalar::Date(d))) => naive_date(*d),
        _ => None,
    }
}

impl InputSource for Preloaded {
    fn read_rows(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<RowSet, InputError> {
        let (partition, rows) = self
            .tables
            .get(table)
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let in_range = |row: &&Vec<Value>| {
            partition_date(row, *partition).is_some_and(|d| (start..=end).contains(&d))
        };
        Ok(RowSet {
            columns: rows.columns.clone(),
            rows: rows.rows.iter().filter(in_range).cloned().collect(),
        })
    }

    /// Filters and projects in one pass, cloning only the named columns,
    /// as a store selects only them.
    fn read_columns(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<RowSet, InputError> {
        let (partition, rows) = self
            .tables
            .get(table)
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let positions = positions_of(table, &rows.columns, columns)?;
        Ok(RowSet {
            columns: columns.to_vec(),
            rows: rows
                .rows
                .iter()
                .filter(|row| {
                    partition_date(row, *partition).is_some_and(|d| (start..=end).contains(&d))
                })
                .map(|row| positions.iter().map(|&p| row[p].clone()).collect())
                .collect(),
        })
    }
}

/// Records the WASM and native timings and their ratio.
pub fn measure(report: &mut Report, effort: Effort, season: &SeasonStore) -> anyhow::Result<()> {
    let runtime = Runtime::new(None)?;
    let bundled = PLUGINS
        .iter()
        .find(|p| p.package == "player-composite-factors")
        .expect("bundled");
    let plugin = runtime.load(bundled.bytes)?;
    // The latest date the backfill ran, so the inputs hold the most history.
    let date = *season.dates.last().expect("dates were run");
    let first = NaiveDate::from_ymd_opt(2025, 10, 1).expect("a date");
    let mut tables = BTreeMap::new();
    for input in &plugin.spec.inputs {
        let schema = season.store_schema(input)?;
        let partition = schema
            .index_of(&schema.partition_column)
            .expect("a partition column");
        tables.insert(
            input.clone(),
            (partition, season.store.read_rows(input, first, date)?),
        );
    }
    let source = Arc::new(Preloaded { tables });
    let guest_tables: BTreeMap<String, (usize, slate_sdk::RowSet)> = source
        .tables
        .iter()
        .map(|(name, (partition, rows))| (name.to_string(), (*partition, rows_to_guest(rows))))
        .collect();

    let repeats = effort.repeats.clamp(3, 20);
    let mut wasm_rows = 0;
    let mut run_wasm = || {
        let identity = RunIdentity {
            processor: plugin.spec.name.clone(),
            date,
            run_id: "bench".into(),
        };
        let mut instance = plugin
            .instantiate(
                identity,
                source.clone(),
                RunLimits::default(),
                Arc::new(AtomicBool::new(false)),
            )
            .expect("instantiate");
        wasm_rows = instance
            .process(date)
            .expect("no trap")
            .expect("no error")
            .rows
            .len();
    };
    let guest_date = slate_sdk::Date {
        year: date.year_ce().1 as i32,
        month: date.month0() as u8 + 1,
        day: date.day0() as u8 + 1,
    };
    let mut native_rows = 0;
    let mut run_native = || {
        let read = |table: &slate_sdk::TableRef,
                    start: slate_sdk::Date,
                    end: slate_sdk::Date,
                    columns: &[&str]| {
            let (partition, rows) = guest_tables
                .get(&format!("{}.{}", table.dataset, table.table))
                .ok_or_else(|| slate_sdk::ReadError::UnknownTable(table.table.clone()))?;
            let positions: Vec<usize> = columns
                .iter()
                .map(|name| {
                    rows.columns
                        .iter()
                        .position(|c| c == name)
                        .expect("a column")
                })
                .collect();
            let in_range = |row: &&slate_sdk::Row| match row.get(*partition) {
                Some(slate_sdk::Value::Scalar(slate_sdk::Scalar::Date(d))) => {
                    *d >= start && *d <= end
                }
                _ => false,
            };
            Ok(slate_sdk::RowSet {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows: rows
                    .rows
                    .iter()
                    .filter(in_range)
                    .map(|row| positions.iter().map(|&p| row[p].clone()).collect())
                    .collect(),
            })
        };
        native_rows = player_composite_factors::compute(guest_date, read)
            .expect("native run")
            .rows
            .len();
    };
    // Natively, but starting from the host's rows as the WASM run does: the
    // reader converts them into the processor's own types, the work the
    // component boundary does for the WASM run.
    let mut converting_rows = 0;
    let mut run_converting = || {
        let read = |table: &slate_sdk::TableRef,
                    start: slate_sdk::Date,
                    end: slate_sdk::Date,
                    columns: &[&str]| {
            let name = TableName::new(&table.dataset, &table.table);
            let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            let to_naive = |d: slate_sdk::Date| {
                NaiveDate::from_ymd_opt(d.year, u32::from(d.month), u32::from(d.day))
            };
            let (Some(start), Some(end)) = (to_naive(start), to_naive(end)) else {
                return Err(slate_sdk::ReadError::InvalidRange("bad date".into()));
            };
            let rows = source
                .read_columns(&name, start, end, &columns)
                .map_err(|e| slate_sdk::ReadError::Storage(e.to_string()))?;
            Ok(rows_to_guest(&rows))
        };
        converting_rows = player_composite_factors::compute(guest_date, read)
            .expect("native run")
            .rows
            .len();
    };
    // Interleaved, so that the machine's noise falls on all three alike.
    let (mut wasm, mut native, mut converting) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        wasm.push(time(1, &mut run_wasm));
        converting.push(time(1, &mut run_converting));
        native.push(time(1, &mut run_native));
    }
    let (wasm, native, converting) = (median(wasm), median(native), median(converting));
    assert_eq!(wasm_rows, native_rows, "both produce the same rows");
    assert_eq!(wasm_rows, converting_rows, "both produce the same rows");
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    report.add(
        "wasm vs native",
        format!("PlayerCompositeFactors as WASM, {date}"),
        ms(wasm),
        "ms",
        format!("{wasm_rows} rows, instantiation included"),
    );
    report.add(
        "wasm vs native",
        "native, reading the host's rows (converted)",
        ms(converting),
        "ms",
        "like for like with the WASM run",
    );
    report.add(
        "wasm vs native",
        "ratio WASM / native, like for like",
        wasm.as_secs_f64() / converting.as_secs_f64(),
        "x",
        "target <= 1.5x",
    );
    report.add(
        "wasm vs native",
        "native, rows already in its own types",
        ms(native),
        "ms",
        "the logic alone, no data movement",
    );
    report.add(
        "wasm vs native",
        "ratio WASM / native logic alone",
        wasm.as_secs_f64() / native.as_secs_f64(),
        "x",
        "the price of the boundary and the sandbox",
    );
    Ok(())
}

use chrono::Datelike;
