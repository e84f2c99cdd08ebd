//! The sandbox one run executes in: the store data and the host imports.
//!
//! A processor gets no filesystem, no network, no environment variables and
//! no arguments. Its wall clock reads the analysis date at noon UTC, its
//! monotonic clock starts at zero, and its randomness is seeded from the
//! processor name and the date, so a run is reproducible. It reads only the
//! tables it declared, through [`InputSource`].

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use wasi_rand::SeedableRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::slate::processor::{host, types};
use super::bindings::{ColumnBatch, Date, LogLevel, ReadError, RowSet, TableRef};
use crate::column_batch::pack;
use crate::limits::{LimitBreach, RunLimits};
use crate::rows::naive_date;
use crate::schema::{Column, TableName, TableSchema};

/// Why an input read failed, as a source reports it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The table does not exist.
    #[error("table {0} does not exist")]
    UnknownTable(TableName),
    /// The table has no column of a requested name.
    #[error("table {table} has no column `{column}`")]
    UnknownColumn {
        /// The table.
        table: TableName,
        /// The requested name.
        column: String,
    },
    /// The backend failed.
    #[error("{0}")]
    Storage(String),
}

/// Where a run's input rows come from: the store, or fixtures in a test.
pub trait InputSource: Send + Sync {
    /// Rows of `table` whose partition date lies in `start..=end`, with every column.
    fn read_rows(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<RowSet, InputError>;

    /// Like [`InputSource::read_rows`], with only `columns`, in that order.
    /// The default reads every column and keeps the named ones; a store
    /// overrides it to read only those.
    fn read_columns(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<RowSet, InputError> {
        project(table, self.read_rows(table, start, end)?, columns)
    }

    /// Like [`InputSource::read_columns`], with the rows packed column by
    /// column. The default packs what `read_columns` returns.
    fn read_column_batch(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<ColumnBatch, InputError> {
        Ok(pack(self.read_columns(table, start, end, columns)?))
    }
}

/// The position in `available` of each of `names`, in order; a name that
/// is not there is an error naming it and `table`.
pub fn positions_of(
    table: &TableName,
    available: &[String],
    names: &[String],
) -> Result<Vec<usize>, InputError> {
    names
        .iter()
        .map(|name| {
            available
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| InputError::UnknownColumn {
                    table: table.clone(),
                    column: name.clone(),
                })
        })
        .collect()
}

/// Keeps only `columns` of `rows`, in that order.
pub fn project(table: &TableName, rows: RowSet, columns: &[String]) -> Result<RowSet, InputError> {
    let positions = positions_of(table, &rows.columns, columns)?;
    Ok(RowSet {
        columns: columns.to_vec(),
        rows: rows
            .rows
            .into_iter()
            .map(|row| positions.iter().map(|&p| row[p].clone()).collect())
            .collect(),
    })
}

/// The columns of `schema` a read returns: all of them, or those named.
pub fn selected_columns<'a>(
    table: &TableName,
    schema: &'a TableSchema,
    names: Option<&[String]>,
) -> Result<Vec<&'a Column>, InputError> {
    let Some(names) = names else {
        return Ok(schema.columns.iter().collect());
    };
    let available: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
    Ok(positions_of(table, &available, names)?
        .into_iter()
        .map(|p| &schema.columns[p])
        .collect())
}

/// Who and what a run is, for logs and input checks.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    /// The processor's name.
    pub processor: String,
    /// The analysis date.
    pub date: NaiveDate,
    /// The run record's id.
    pub run_id: String,
}

/// How much of a guest's stderr (panic messages) a run keeps.
pub const STDERR_CAPACITY: usize = 64 << 10;

/// The store data of one run: WASI state, the declared inputs, counters.
pub struct RunState {
    wasi: WasiCtx,
    resources: ResourceTable,
    memory: MemoryCap,
    max_rows_read: u64,
    identity: RunIdentity,
    declared_inputs: Arc<[TableName]>,
    source: Arc<dyn InputSource>,
    rows_read: u64,
    stderr: MemoryOutputPipe,
    started: std::time::Instant,
    wall_time: Duration,
}

impl RunState {
    /// A sandbox for one run with no capabilities beyond reading `declared_inputs`.
    pub fn new(
        identity: RunIdentity,
        declared_inputs: Arc<[TableName]>,
        source: Arc<dyn InputSource>,
        limits: RunLimits,
    ) -> Self {
        let noon = identity
            .date
            .and_hms_opt(12, 0, 0)
            .expect("noon exists")
            .and_utc();
        let seed = seed_for(&identity.processor, identity.date);
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FixedWallClock(Duration::from_secs(
                noon.timestamp().max(0) as u64
            )))
            .monotonic_clock(StartAtZeroClock)
            .secure_random(wasi_rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(wasi_rand::rngs::StdRng::seed_from_u64(seed ^ 1))
            .insecure_random_seed(u128::from(seed))
            .build();
        RunState {
            wasi,
            resources: ResourceTable::new(),
            memory: MemoryCap {
                limit: limits.memory_bytes,
                peak: 0,
            },
            max_rows_read: limits.max_rows_read,
            identity,
            declared_inputs,
            source,
            rows_read: 0,
            stderr,
            started: std::time::Instant::now(),
            wall_time: limits.wall_time,
        }
    }

    /// Rows the processor has read through `read-rows` so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// What the guest wrote to stderr, such as a panic message, lossily decoded.
    pub fn guest_stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    /// Refuses a wait (a sleep, a poll on a timer) that would end after the
    /// run's wall-clock deadline: a guest blocked in a host call cannot be
    /// interrupted, so it may not start a wait it is not allowed to finish.
    pub fn check_wait(&self, wait: Duration) -> Result<(), LimitBreach> {
        let ends_at = self.started.elapsed() + wait;
        if ends_at > self.wall_time {
            return Err(LimitBreach::WallTime {
                limit: self.wall_time.as_millis() as u64,
                observed: ends_at.as_millis().min(u128::from(u64::MAX)) as u64,
            });
        }
        Ok(())
    }

    /// The run's memory limiter.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// The largest linear memory the instance grew to, in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.memory.peak
    }
}

/// A stable seed from a processor name and a date (FNV-1a).
fn seed_for(processor: &str, date: NaiveDate) -> u64 {
    let text = format!("{processor}@{date}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Caps linear memory; a refused growth traps with a [`LimitBreach`] that
/// records how much was asked for.
struct MemoryCap {
    limit: u64,
    peak: u64,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            return Err(wasmtime::Error::new(LimitBreach::Memory {
                limit: self.limit,
                observed: desired,
            }));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

struct FixedWallClock(Duration);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

struct StartAtZeroClock;

impl HostMonotonicClock for StartAtZeroClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

impl RunState {
    /// One read through `read-rows` (every column), `read-columns` or
    /// `read-column-batch`: the table must be declared, the range real and
    /// ordered, and the rows within the run's read limit.
    fn read<R: ReadRows>(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        read: impl FnOnce(&dyn InputSource, &TableName, NaiveDate, NaiveDate) -> Result<R, InputError>,
    ) -> Result<R, ReadError> {
        let table = TableName::from(&table);
        if !self.declared_inputs.contains(&table) {
            return Err(ReadError::UndeclaredTable(format!(
                "{} did not declare {table} among its inputs ({})",
                self.identity.processor,
                self.declared_inputs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (Some(start), Some(end)) = (naive_date(start), naive_date(end)) else {
            return Err(ReadError::InvalidRange(format!(
                "{start:?}..{end:?} holds an impossible date"
            )));
        };
        if start > end {
            return Err(ReadError::InvalidRange(format!(
                "start {start} is after end {end}"
            )));
        }
        match read(self.source.as_ref(), &table, start, end) {
            Ok(rows) if self.rows_read + rows.row_count() > self.max_rows_read => {
                Err(ReadError::LimitExceeded(format!(
                    "reading {} rows of {table} would make {} rows read; the limit is {}",
                    rows.row_count(),
                    self.rows_read + rows.row_count(),
                    self.max_rows_read
                )))
            }
            Ok(rows) => {
                self.rows_read += rows.row_count();
                Ok(rows)
            }
            Err(InputError::UnknownTable(t)) => {
                Err(ReadError::UnknownTable(format!("table {t} does not exist")))
            }
            Err(error @ InputError::UnknownColumn { .. }) => {
                Err(ReadError::UnknownTable(error.to_string()))
            }
            Err(InputError::Storage(message)) => Err(ReadError::Storage(message)),
        }
    }
}

/// What a read returns, counted against the run's limit on rows read.
trait ReadRows {
    fn row_count(&self) -> u64;
}

impl ReadRows for RowSet {
    fn row_count(&self) -> u64 {
        self.rows.len() as u64
    }
}

impl ReadRows for ColumnBatch {
    fn row_count(&self) -> u64 {
        u64::from(self.row_count)
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.resources,
        }
    }
}

impl types::Host for RunState {}

impl host::Host for RunState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let RunIdentity {
            processor,
            date,
            run_id,
        } = &self.identity;
        let date = date.to_string();
        match level {
            LogLevel::Trace => tracing::trace!(processor, date, run_id, "{message}"),
            LogLevel::Debug => tracing::debug!(processor, date, run_id, "{message}"),
            LogLevel::Info => tracing::info!(processor, date, run_id, "{message}"),
            LogLevel::Warn => tracing::warn!(processor, date, run_id, "{message}"),
            LogLevel::Error => tracing::error!(processor, date, run_id, "{message}"),
        }
        Ok(())
    }

    fn read_rows(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
    ) -> wasmtime::Result<Result<RowSet, ReadError>> {
        Ok(self.read(table, start, end, |source, table, start, end| {
            source.read_rows(table, start, end)
        }))
    }

    fn read_columns(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Vec<String>,
    ) -> wasmtime::Result<Result<RowSet, ReadError>> {
        Ok(self.read(table, start, end, |source, table, start, end| {
            source.read_columns(table, start, end, &columns)
        }))
    }

    fn read_column_batch(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Vec<String>,
    ) -> wasmtime::Result<Result<ColumnBatch, ReadError>> {
        Ok(self.read(table, start, end, |source, table, start, end| {
            source.read_column_batch(table, start, end, &columns)
        }))
    }
}
