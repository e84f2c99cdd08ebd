//! `PlayerCompositeFactorsProcessor` as WASM against the same code compiled
//! natively, on a season's data.
//!
//! Each pair runs the processor both ways on the same reads, packed column
//! by column, the players coded: the WASM run through the host's
//! `read-coded-column-batch` (copying the batch into the guest), the native
//! run through a `BatchReads` that converts the host's batch into the
//! processor's types. Both then parse, compute and build the output. The pairs differ in where the rows come
//! from:
//!
//! - memory (the season's rows held by the bench): like for like, the
//!   target's measure;
//! - batches read beforehand, so that only the processor and the boundary
//!   remain: the price of the sandbox alone;
//! - the embedded store (SQLite), as a run in production reads.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use slate::bundled::PLUGINS;
use slate::plugin::sandbox::RunIdentity;
use slate::plugin::{RunLimits, Runtime};
use slate::rows::{RowSet, Scalar, Value, naive_date};
use slate::schema::TableName;
use slate::store::input::positions_of;
use slate::store::{InputError, InputSource, TableSpan};
use slate::text_codes::CodedColumnBatch;
use slate::upstream_check::ReadWindow;
use slate_sdk::{self as guest, BatchReads};

use crate::backfill::SeasonStore;
use crate::convert::coded_to_guest;
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
    reads: BTreeMap<BatchKey, CodedColumnBatch>,
}

/// Which read a batch answered: the table and the range of dates.
type BatchKey = (TableName, NaiveDate, NaiveDate);

impl InputSource for Cached {
    fn select(&self, span: TableSpan<'_>, _: Option<&[String]>) -> Result<RowSet, InputError> {
        Err(InputError::Storage(format!(
            "{}: only batches are cached",
            span.table
        )))
    }

    fn read_coded_column_batch(
        &self,
        TableSpan { table, start, end }: TableSpan<'_>,
        _: &[String],
        _: &[String],
    ) -> Result<CodedColumnBatch, InputError> {
        self.reads
            .get(&(table.clone(), start, end))
            .cloned()
            .ok_or_else(|| InputError::Storage(format!("{table} {start}..{end} was not cached")))
    }
}

/// The processor's reads, natively: a source's batches converted into the
/// processor's types, the copy the component boundary makes for the WASM
/// run.
struct NativeReads(Arc<dyn InputSource>);

impl NativeReads {
    fn read<T>(
        table: &guest::TableRef,
        start: guest::Date,
        end: guest::Date,
        read: impl FnOnce(TableSpan<'_>) -> Result<T, InputError>,
    ) -> Result<T, guest::ReadError> {
        let name = TableName::new(&table.dataset, &table.table);
        let (Some(start), Some(end)) = (naive(start), naive(end)) else {
            return Err(guest::ReadError::InvalidRange("bad date".into()));
        };
        read(TableSpan::new(&name, start, end))
            .map_err(|e| guest::ReadError::Storage(e.to_string()))
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

impl BatchReads for NativeReads {
    fn coded_column_batch(
        &self,
        table: &guest::TableRef,
        start: guest::Date,
        end: guest::Date,
        columns: &[&str],
        coded: &[&str],
    ) -> Result<guest::CodedColumnBatch, guest::ReadError> {
        NativeReads::read(table, start, end, |span| {
            self.0
                .read_coded_column_batch(span, &owned(columns), &owned(coded))
        })
        .map(|read| coded_to_guest(&read))
    }
}

/// The reads of one native run, as the processor's types, kept by the
/// read they answered: recorded from another source's reads, then
/// replayed at the cost of a clone.
#[derive(Default)]
struct Replay {
    reads: RefCell<BTreeMap<BatchKey, guest::CodedColumnBatch>>,
    /// Where reads come from while recording; `None` when replaying.
    recording: Option<NativeReads>,
}

impl Replay {
    fn answer(
        kept: &RefCell<BTreeMap<BatchKey, guest::CodedColumnBatch>>,
        (table, start, end): (&guest::TableRef, guest::Date, guest::Date),
        read: Option<impl FnOnce() -> Result<guest::CodedColumnBatch, guest::ReadError>>,
    ) -> Result<guest::CodedColumnBatch, guest::ReadError> {
        let key = batch_key(table, start, end);
        if let Some(read) = read {
            let answer = read()?;
            kept.borrow_mut().insert(key.clone(), answer);
        }
        kept.borrow()
            .get(&key)
            .cloned()
            .ok_or_else(|| guest::ReadError::UnknownTable(key.0.to_string()))
    }
}

impl BatchReads for Replay {
    fn coded_column_batch(
        &self,
        table: &guest::TableRef,
        start: guest::Date,
        end: guest::Date,
        columns: &[&str],
        coded: &[&str],
    ) -> Result<guest::CodedColumnBatch, guest::ReadError> {
        let read = (self.recording.as_ref())
            .map(|reads| move || reads.coded_column_batch(table, start, end, columns, coded));
        Replay::answer(&self.reads, (table, start, end), read)
    }
}

/// The key of a host read.
fn span_key(TableSpan { table, start, end }: TableSpan<'_>) -> BatchKey {
    (table.clone(), start, end)
}

/// The key of a guest read.
fn batch_key(table: &guest::TableRef, start: guest::Date, end: guest::Date) -> BatchKey {
    (
        TableName::new(&table.dataset, &table.table),
        naive(start).expect("a date"),
        naive(end).expect("a date"),
    )
}

/// A guest date as a chrono date, `None` when impossible.
fn naive(date: guest::Date) -> Option<NaiveDate> {
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
                ReadWindow::default(),
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
    let guest_date = guest::Date {
        year: date.year_ce().1 as i32,
        month: date.month0() as u8 + 1,
        day: date.day0() as u8 + 1,
    };
    // Natively, but starting from the host's rows as the WASM run does: the
    // source packs them into a batch as for `read-column-batch`, and the
    // batch is converted into the processor's own types, the copy the
    // component boundary makes for the WASM run.
    let preloaded: Arc<dyn InputSource> = source.clone();
    let embedded: Arc<dyn InputSource> = season.store.clone();
    let (read_preloaded, read_embedded) = (
        NativeReads(preloaded.clone()),
        NativeReads(embedded.clone()),
    );
    let run_native = |reads: &dyn BatchReads| {
        player_composite_factors::compute(guest_date, reads)
            .expect("native run")
            .rows
            .len()
    };
    // Every batch the processor reads, read once beforehand, as the host's
    // and as the processor's own types.
    let recorded = Replay {
        recording: Some(NativeReads(preloaded.clone())),
        ..Replay::default()
    };
    run_native(&recorded);
    let replay = Replay {
        recording: None,
        ..recorded
    };
    let mut host_batches = Cached::default();
    for ((table, start, end), read) in replay.reads.borrow().iter() {
        let columns: Vec<String> = read.batch.columns.iter().map(|c| c.name.clone()).collect();
        let coded: Vec<String> = read.coded.iter().map(|c| c.name.clone()).collect();
        let span = TableSpan::new(table, *start, *end);
        let host_read = source.read_coded_column_batch(span, &columns, &coded)?;
        host_batches.reads.insert(span_key(span), host_read);
    }
    let host_batches: Arc<dyn InputSource> = Arc::new(host_batches);

    // Interleaved, so that the machine's noise falls on all six alike.
    let mut samples = [(); 6].map(|_| Vec::new());
    let mut rows = [0; 6];
    for _ in 0..repeats {
        let runs: [&dyn Fn() -> usize; 6] = [
            &|| run_wasm(preloaded.clone()),
            &|| run_native(&read_preloaded),
            &|| run_wasm(host_batches.clone()),
            &|| run_native(&replay),
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
