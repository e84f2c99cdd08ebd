//! `PlayerCompositeFactorsProcessor` as WASM against the same code compiled
//! natively, on a season's data.
//!
//! Each pair runs the processor both ways on the same reads, packed column
//! by column: the WASM run through the host's `read-column-batch` (copying
//! the batch into the guest), the native run through a closure that
//! converts the host's batch into the processor's types. Both then parse,
//! compute and build the output. The pairs differ in where the rows come
//! from:
//!
//! - memory (the season's rows held by the bench): like for like, the
//!   target's measure;
//! - batches read beforehand, so that only the processor and the boundary
//!   remain: the price of the sandbox alone;
//! - the embedded store (SQLite), as a run in production reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use slate::bundled::PLUGINS;
use slate::column_batch::ColumnBatch;
use slate::plugin::sandbox::RunIdentity;
use slate::plugin::{RunLimits, Runtime};
use slate::rows::{RowSet, Scalar, Value, naive_date};
use slate::schema::TableName;
use slate::store::input::positions_of;
use slate::store::{InputError, InputSource, TableSpan};

use crate::backfill::SeasonStore;
use crate::convert::batch_to_guest;
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
    /// Filters and projects in one pass, cloning only the selected columns,
    /// as a store selects only them.
    fn select(
        &self,
        span: TableSpan<'_>,
        columns: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        let TableSpan { table, start, end } = span;
        let (partition, rows) = self
            .tables
            .get(table)
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let columns = columns.unwrap_or(&rows.columns);
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

/// The batches one run reads, read beforehand: a source that costs only
/// a clone, so that a run's time is the processor's and the boundary's.
#[derive(Default)]
struct Cached {
    batches: BTreeMap<(TableName, NaiveDate, NaiveDate), ColumnBatch>,
}

impl InputSource for Cached {
    fn select(&self, span: TableSpan<'_>, _: Option<&[String]>) -> Result<RowSet, InputError> {
        Err(InputError::Storage(format!(
            "{}: only batches are cached",
            span.table
        )))
    }

    fn read_column_batch(
        &self,
        TableSpan { table, start, end }: TableSpan<'_>,
        _: &[String],
    ) -> Result<ColumnBatch, InputError> {
        self.batches
            .get(&(table.clone(), start, end))
            .cloned()
            .ok_or_else(|| InputError::Storage(format!("{table} {start}..{end} was not cached")))
    }
}

/// The processor's reads, natively: a closure in place of the host import.
type BatchReader<'a> = &'a dyn Fn(
    &slate_sdk::TableRef,
    slate_sdk::Date,
    slate_sdk::Date,
    &[&str],
) -> Result<slate_sdk::ColumnBatch, slate_sdk::ReadError>;

/// A guest date as a chrono date, `None` when impossible.
fn naive(date: slate_sdk::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))
}

/// Records the WASM and native timings and their ratio.
pub fn measure(report: &mut Report, effort: Effort, season: &SeasonStore) -> anyhow::Result<()> {
    // The runtime the season ran on, as commands run processors: pooled,
    // with memory kept resident (`--pooled-runs 0`: allocated on demand).
    let runtime = Runtime::with_options(None, effort.runtime)?;
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
    let batch_key = |table: &slate_sdk::TableRef, start: slate_sdk::Date, end: slate_sdk::Date| {
        (
            TableName::new(&table.dataset, &table.table),
            naive(start).expect("a date"),
            naive(end).expect("a date"),
        )
    };

    let repeats = effort.native_repeats;
    let run_wasm = |source: Arc<dyn InputSource>| {
        let identity = RunIdentity {
            processor: plugin.spec.name.clone(),
            date,
            run_id: "bench".into(),
        };
        let mut instance = plugin
            .instantiate(
                identity,
                source,
                RunLimits::default(),
                Arc::new(AtomicBool::new(false)),
            )
            .expect("instantiate");
        instance
            .process(date)
            .expect("no trap")
            .expect("no error")
            .rows
            .len()
    };
    let guest_date = slate_sdk::Date {
        year: date.year_ce().1 as i32,
        month: date.month0() as u8 + 1,
        day: date.day0() as u8 + 1,
    };
    // Natively, but starting from the host's rows as the WASM run does: the
    // source packs them into a batch as for `read-column-batch`, and the
    // batch is converted into the processor's own types, the copy the
    // component boundary makes for the WASM run.
    let read_from = |source: Arc<dyn InputSource>| {
        move |table: &slate_sdk::TableRef,
              start: slate_sdk::Date,
              end: slate_sdk::Date,
              columns: &[&str]| {
            let name = TableName::new(&table.dataset, &table.table);
            let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            let (Some(start), Some(end)) = (naive(start), naive(end)) else {
                return Err(slate_sdk::ReadError::InvalidRange("bad date".into()));
            };
            let batch = source
                .read_column_batch(TableSpan::new(&name, start, end), &columns)
                .map_err(|e| slate_sdk::ReadError::Storage(e.to_string()))?;
            Ok(batch_to_guest(&batch))
        }
    };
    let preloaded: Arc<dyn InputSource> = source.clone();
    let embedded: Arc<dyn InputSource> = season.store.clone();
    let (read_preloaded, read_embedded) =
        (read_from(preloaded.clone()), read_from(embedded.clone()));
    let run_native = |read: BatchReader<'_>| {
        player_composite_factors::compute(guest_date, read)
            .expect("native run")
            .rows
            .len()
    };
    // Every batch the processor reads, read once beforehand, as the host's
    // and as the processor's own types.
    let mut host_batches = Cached::default();
    let recorded = std::cell::RefCell::new(BTreeMap::new());
    run_native(&|table, start, end, columns| {
        let batch = read_preloaded(table, start, end, columns)?;
        let key = batch_key(table, start, end);
        recorded.borrow_mut().insert(key, batch.clone());
        Ok(batch)
    });
    let guest_batches = recorded.into_inner();
    for ((table, start, end), batch) in &guest_batches {
        let columns: Vec<String> = batch.columns.iter().map(|c| c.name.clone()).collect();
        let host_batch = source.read_column_batch(TableSpan::new(table, *start, *end), &columns)?;
        host_batches
            .batches
            .insert((table.clone(), *start, *end), host_batch);
    }
    let host_batches: Arc<dyn InputSource> = Arc::new(host_batches);
    let read_cloned =
        |table: &slate_sdk::TableRef, start: slate_sdk::Date, end: slate_sdk::Date, _: &[&str]| {
            let key = batch_key(table, start, end);
            guest_batches
                .get(&key)
                .cloned()
                .ok_or_else(|| slate_sdk::ReadError::UnknownTable(key.0.to_string()))
        };

    // Interleaved, so that the machine's noise falls on all six alike.
    let mut samples = [(); 6].map(|_| Vec::new());
    let mut rows = [0; 6];
    for _ in 0..repeats {
        let runs: [&dyn Fn() -> usize; 6] = [
            &|| run_wasm(preloaded.clone()),
            &|| run_native(&read_preloaded),
            &|| run_wasm(host_batches.clone()),
            &|| run_native(&read_cloned),
            &|| run_wasm(embedded.clone()),
            &|| run_native(&read_embedded),
        ];
        for (i, run) in runs.iter().enumerate() {
            samples[i].push(time(1, || rows[i] = run()));
        }
    }
    assert!(
        rows.iter().all(|r| *r == rows[0]),
        "all six produce the same rows: {rows:?}"
    );
    let [
        wasm,
        native,
        wasm_cached,
        native_cached,
        wasm_embedded,
        native_embedded,
    ] = samples.map(median);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let group = "wasm vs native";
    report.add(
        group,
        format!("PlayerCompositeFactors as WASM, {date}"),
        ms(wasm),
        "ms",
        format!(
            "{} rows; reads the source, instantiation included; {}",
            rows[0],
            match effort.runtime.pooled_runs {
                Some(_) => format!(
                    "pooled, {} MiB of memory kept resident",
                    effort.runtime.keep_resident_bytes >> 20
                ),
                None => "instances allocated on demand".to_string(),
            }
        ),
    );
    report.add(
        group,
        "native, reading the same source",
        ms(native),
        "ms",
        "like for like: the host's batches converted to its types",
    );
    report.add(
        group,
        "ratio WASM / native, like for like",
        wasm.as_secs_f64() / native.as_secs_f64(),
        "x",
        "target <= 1.5x",
    );
    report.add(
        group,
        "WASM, batches read beforehand",
        ms(wasm_cached),
        "ms",
        "the source only clones: the processor and the boundary",
    );
    report.add(
        group,
        "native, batches read beforehand",
        ms(native_cached),
        "ms",
        "the logic alone: each run clones its batches",
    );
    report.add(
        group,
        "ratio WASM / native, without the source",
        wasm_cached.as_secs_f64() / native_cached.as_secs_f64(),
        "x",
        "the price of the sandbox and the boundary alone",
    );
    report.add(
        group,
        "WASM, reading the embedded store",
        ms(wasm_embedded),
        "ms",
        "as a run in production: SQLite rows packed into batches",
    );
    report.add(
        group,
        "native, reading the embedded store",
        ms(native_embedded),
        "ms",
        "the same reads, converted to its types",
    );
    report.add(
        group,
        "ratio WASM / native, from the embedded store",
        wasm_embedded.as_secs_f64() / native_embedded.as_secs_f64(),
        "x",
        "",
    );
    Ok(())
}

use chrono::Datelike;
