//! The sandbox one run executes in: the store data and the host imports.
//!
//! A processor gets no filesystem, no network, no environment variables and
//! no arguments. Its wall clock reads the analysis date at noon UTC, its
//! monotonic clock starts at zero, and its randomness is seeded from the
//! processor name and the date, so a run is reproducible. It reads only the
//! tables it declared, through the [`InputSource`] storage (or a test's
//! fixtures) offers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use wasi_rand::SeedableRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::source_map::BundleSourceMap;
use crate::bindings::slate::processor::{host, types};
use crate::bindings::{CodedColumnBatch, ColumnBatch, Date, LogLevel, ReadError, RowSet, TableRef};
use crate::limits::{LimitBreach, RunLimits};
use crate::rows::naive_date;
use crate::schema::TableName;
use crate::store::input::{InputError, InputSource, TableSpan};
use crate::upstream_check::ReadWindow;

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

/// Why a read of a declared input failed in the store, or was refused for
/// the run's limit on rows read: the run's failure, whatever the processor
/// made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFailure {
    /// The store read the table and refused what it holds (a row its
    /// schema refuses), or failed on it: the message says which.
    Refused(String),
    /// The store could not be reached; the read may work if tried again.
    Unreachable(String),
    /// The read would have taken the run past its limit on rows read.
    OverLimit(LimitBreach),
}

/// How much of a guest's stderr (panic messages) a run keeps.
pub const STDERR_CAPACITY: usize = 64 << 10;

/// The store data of one run: WASI state, the declared inputs, counters.
pub struct RunState {
    wasi: WasiCtx,
    resources: ResourceTable,
    memory: MemoryCap,
    logs: GuestLogs,
    max_rows_read: u64,
    identity: RunIdentity,
    declared_inputs: Arc<[TableName]>,
    /// How far back it may read each upstream's output.
    window: ReadWindow,
    source: Arc<dyn InputSource>,
    rows_read: u64,
    /// The first read of an input that failed in the store, or went past
    /// the limit on rows read, as the host told the processor.
    input_failure: Option<InputFailure>,
    stderr: MemoryOutputPipe,
    started: std::time::Instant,
    wall_time: Duration,
    /// Set when the host stops the run (max runtime, shutdown): the guest's
    /// waits end at it, for epoch interruption reaches guest code only.
    cancel: Arc<AtomicBool>,
    /// A JavaScript bundle's source map: the stacks the guest logs are
    /// given in the author's files.
    source_map: Option<Arc<BundleSourceMap>>,
}

/// How often a guest's wait looks at its run's cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(20);

/// A wait the guest asked for (a sleep, a poll on a timer) that also ends
/// as soon as the host cancels the run: a guest blocked in a host call is
/// out of epoch interruption's reach, so the wait watches the cancel
/// itself, every [`CANCEL_CHECK`].
struct CancellableWait {
    /// When it ends by itself; `None` for never.
    until: Option<tokio::time::Instant>,
    cancel: Arc<AtomicBool>,
    /// Whether a wait already over yielded once: as wasmtime-wasi's own
    /// timers, so that a guest polling with a zero timeout in a loop does
    /// not starve the runtime.
    yielded: bool,
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::Pollable for CancellableWait {
    async fn ready(&mut self) {
        let now = tokio::time::Instant::now();
        if self.until.is_some_and(|until| until <= now) {
            if !std::mem::replace(&mut self.yielded, true) {
                tokio::task::yield_now().await;
            }
            return;
        }
        while !self.cancel.load(Ordering::Relaxed) {
            let slice = tokio::time::Instant::now() + CANCEL_CHECK;
            match self.until {
                Some(until) if until <= slice => return tokio::time::sleep_until(until).await,
                _ => tokio::time::sleep_until(slice).await,
            }
        }
    }
}

impl RunState {
    /// A sandbox for one run with no capabilities beyond reading
    /// `declared_inputs`, each upstream's output no further back than
    /// `window` says.
    pub fn new(
        identity: RunIdentity,
        declared_inputs: Arc<[TableName]>,
        window: ReadWindow,
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
            memory: MemoryCap::new(limits.memory_bytes),
            logs: GuestLogs::new(&limits),
            max_rows_read: limits.max_rows_read,
            identity,
            declared_inputs,
            window,
            source,
            rows_read: 0,
            input_failure: None,
            stderr,
            started: std::time::Instant::now(),
            wall_time: limits.wall_time,
            cancel: Arc::new(AtomicBool::new(false)),
            source_map: None,
        }
    }

    /// The sandbox, its waits ending when `cancel` is set.
    pub fn cancelled_by(self, cancel: Arc<AtomicBool>) -> Self {
        RunState { cancel, ..self }
    }

    /// The sandbox, giving the frames of a JavaScript bundle that the guest
    /// logs at their place in the author's files, by `source_map`.
    pub fn mapping_stacks_by(self, source_map: Option<Arc<BundleSourceMap>>) -> Self {
        RunState { source_map, ..self }
    }

    /// Whether the host has cancelled the run.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// A pollable that is ready after `wait`, or as soon as the host
    /// cancels the run; a wait past the run's wall-clock limit is refused
    /// ([`RunState::check_wait`]).
    pub fn subscribe_wait(
        &mut self,
        wait: Duration,
    ) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi::p2::DynPollable>> {
        self.check_wait(wait).map_err(wasmtime::Error::new)?;
        let pending = self.resources.push(CancellableWait {
            until: tokio::time::Instant::now().checked_add(wait),
            cancel: self.cancel.clone(),
            yielded: false,
        })?;
        wasmtime_wasi::p2::subscribe(&mut self.resources, pending)
    }

    /// Rows the processor has read through `read-rows` so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The first read of an input that failed in the store: the run fails
    /// with it, whatever the processor did after.
    pub fn input_failure(&self) -> Option<&InputFailure> {
        self.input_failure.as_ref()
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
            return Err(LimitBreach::WaitPastLimit {
                limit: self.wall_time.as_millis() as u64,
                until: ends_at.as_millis().min(u128::from(u64::MAX)) as u64,
            });
        }
        Ok(())
    }

    /// The run's memory limiter.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// The most memory (all linear memories and tables) the instance held
    /// at once, in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.memory.peak()
    }

    /// Guest log lines dropped so far over the run's log budget.
    pub fn log_lines_dropped(&self) -> u64 {
        self.logs.dropped
    }
}

/// A stable seed from a processor name and a date (FNV-1a).
fn seed_for(processor: &str, date: NaiveDate) -> u64 {
    let text = format!("{processor}@{date}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What one table element is counted as against the memory limit: a
/// function reference, as wasmtime stores it.
pub const TABLE_ELEMENT_BYTES: u64 = 8;

/// Caps the memory of one instance: the sum of all its linear memories and
/// tables, however many its core modules declare. A store holds exactly one
/// instance, so the sum over the store is the instance's. A refused growth
/// (or an instantiation whose initial memories are too large) traps with a
/// [`LimitBreach`] that records the total the instance asked for.
#[derive(Debug, Default)]
pub struct MemoryCap {
    limit: u64,
    total: u64,
    peak: u64,
}

impl MemoryCap {
    /// A cap of `limit` bytes over all memories and tables.
    pub fn new(limit: u64) -> Self {
        MemoryCap {
            limit,
            ..MemoryCap::default()
        }
    }

    /// The most the instance held at once, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak
    }

    /// Grows the total from `current` to `desired` bytes of one memory or
    /// table, or refuses with the total that was asked for.
    fn grow(&mut self, current: u64, desired: u64) -> wasmtime::Result<bool> {
        let asked = self.total.saturating_sub(current).saturating_add(desired);
        if asked > self.limit {
            return Err(wasmtime::Error::new(LimitBreach::Memory {
                limit: self.limit,
                observed: asked,
            }));
        }
        self.total = asked;
        self.peak = self.peak.max(asked);
        Ok(true)
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current as u64, desired as u64)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let bytes = |elements: usize| (elements as u64).saturating_mul(TABLE_ELEMENT_BYTES);
        self.grow(bytes(current), bytes(desired))
    }
}

/// A run's budget for `host.log`: lines and bytes it may still write, the
/// longest message kept, and the highest level a guest line logs at.
#[derive(Debug)]
struct GuestLogs {
    lines_left: u64,
    bytes_left: u64,
    max_message: usize,
    errors_allowed: bool,
    dropped: u64,
}

impl GuestLogs {
    fn new(limits: &RunLimits) -> Self {
        GuestLogs {
            lines_left: limits.max_log_lines,
            bytes_left: limits.max_log_bytes,
            max_message: usize::try_from(limits.max_log_message_bytes).unwrap_or(usize::MAX),
            errors_allowed: limits.guest_log_errors,
            dropped: 0,
        }
    }

    /// The line to write, with its level capped and its message cut to
    /// length, or `None` (counted as dropped) once the budget is spent.
    /// `message` cut to the longest a line may be, saying how much was cut.
    fn cut(&self, mut message: String) -> String {
        if message.len() > self.max_message {
            let cut = (0..=self.max_message)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            let removed = message.len() - cut;
            message.truncate(cut);
            message.push_str(&format!("… ({removed} bytes cut)"));
        }
        message
    }

    fn admit(&mut self, level: LogLevel, message: String) -> Option<(LogLevel, String)> {
        let message = self.cut(message);
        let bytes = message.len() as u64;
        if self.lines_left == 0 || bytes > self.bytes_left {
            self.dropped += 1;
            self.lines_left = 0;
            return None;
        }
        self.lines_left -= 1;
        self.bytes_left -= bytes;
        let level = match level {
            LogLevel::Error if !self.errors_allowed => LogLevel::Warn,
            level => level,
        };
        Some((level, message))
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

/// A list of columns no read takes, as the processor's own error: none
/// (the stores built a query of no column, and blamed the input), or one
/// named twice, plain or coded (a list can then be as long as a processor
/// likes, and each coded mention had the host build the column's codes
/// and dictionary again, outside every limit of the run).
fn refused_column_list(
    table: &TableName,
    columns: &[String],
    coded: &[String],
) -> Option<ReadError> {
    let twice = |names: &[String]| {
        let mut asked = std::collections::HashSet::with_capacity(names.len());
        names
            .iter()
            .find(|name| !asked.insert(name.as_str()))
            .cloned()
    };
    let problem = if columns.is_empty() {
        "no columns asked for: a read names at least one".to_string()
    } else if let Some(twice) = twice(columns) {
        format!("column `{twice}` asked for twice")
    } else {
        format!("column `{}` asked for coded twice", twice(coded)?)
    };
    Some(ReadError::UnknownTable(format!("{table}: {problem}")))
}

impl RunState {
    /// One read through `read-rows` (every column), `read-columns` or
    /// `read-column-batch`: the table must be declared, the range real,
    /// ordered and within the run's window, and the rows within the run's
    /// read limit.
    fn read<R: ReadRows>(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Option<(&[String], &[String])>,
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
        // A later date's rows are its future: reading them would leak it
        // into this date, and a rerun of that date would not make this
        // one outdated.
        if end > self.identity.date {
            return Err(ReadError::InvalidRange(format!(
                "{} may not read {table} up to {end}, after its analysis date {}: a run \
                 reads no later date",
                self.identity.processor, self.identity.date
            )));
        }
        // Before its lookback's first day, the rows are ones no check
        // vouched for, and a rerun of their date would not make this one
        // outdated.
        if let Some(floor) = self.window.floor_of(&table.to_string())
            && start < floor.from
        {
            return Err(ReadError::InvalidRange(format!(
                "{} may not read {table} from {start}: its lookback for {} ({}) starts at {} \
                 for analysis date {}, and a read before it escapes the gap check and \
                 outdated tracking",
                self.identity.processor,
                floor.upstream,
                floor.lookback,
                floor.from,
                self.identity.date
            )));
        }
        if let Some(refused) =
            columns.and_then(|(columns, coded)| refused_column_list(&table, columns, coded))
        {
            return Err(refused);
        }
        match read(self.source.as_ref(), &table, start, end) {
            Ok(rows) if self.rows_read + rows.row_count() > self.max_rows_read => {
                let breach = LimitBreach::RowsRead {
                    limit: self.max_rows_read,
                    observed: self.rows_read + rows.row_count(),
                    rows: rows.row_count(),
                    table: table.to_string(),
                };
                let message = breach.to_string();
                self.input_failure
                    .get_or_insert(InputFailure::OverLimit(breach));
                Err(ReadError::LimitExceeded(message))
            }
            Ok(rows) => {
                self.rows_read += rows.row_count();
                Ok(rows)
            }
            Err(InputError::UnknownTable(t)) => {
                Err(ReadError::UnknownTable(format!("table {t} does not exist")))
            }
            Err(
                error @ (InputError::UnknownColumn { .. }
                | InputError::NotInFixture { .. }
                | InputError::NotText { .. }),
            ) => Err(ReadError::UnknownTable(error.to_string())),
            Err(InputError::Storage(message)) => {
                let failure = InputFailure::Refused(message.clone());
                self.input_failure.get_or_insert(failure);
                Err(ReadError::Storage(message))
            }
            Err(InputError::Unreachable(message)) => {
                let failure = InputFailure::Unreachable(message.clone());
                self.input_failure.get_or_insert(failure);
                Err(ReadError::Storage(message))
            }
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

impl ReadRows for CodedColumnBatch {
    fn row_count(&self) -> u64 {
        u64::from(self.batch.row_count)
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
        // Escaped and mapped before it is admitted, so that the line, as
        // written, is what the limits count: neither its escapes nor a map
        // can make it longer than a line may be, nor the run's log larger
        // than its budget. Escaped, it sends a terminal no control; its
        // lines (a stack trace) stay lines, which the log indents.
        let message = self.logs.cut(crate::printable::into_lines(message));
        let message = match &self.source_map {
            Some(map) => map.map_frames(&message, self.logs.max_message),
            None => message,
        };
        let Some((level, message)) = self.logs.admit(level, message) else {
            return Ok(());
        };
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
        Ok(
            self.read(table, start, end, None, |source, table, start, end| {
                source.read_rows(table, start, end)
            }),
        )
    }

    fn read_columns(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Vec<String>,
    ) -> wasmtime::Result<Result<RowSet, ReadError>> {
        Ok(self.read(
            table,
            start,
            end,
            Some((&columns, &[])),
            |source, table, start, end| source.read_columns(table, start, end, &columns),
        ))
    }

    fn read_column_batch(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Vec<String>,
    ) -> wasmtime::Result<Result<ColumnBatch, ReadError>> {
        Ok(self.read(
            table,
            start,
            end,
            Some((&columns, &[])),
            |source, table, start, end| {
                source.read_column_batch(TableSpan::new(table, start, end), &columns)
            },
        ))
    }

    fn read_coded_column_batch(
        &mut self,
        table: TableRef,
        start: Date,
        end: Date,
        columns: Vec<String>,
        coded: Vec<String>,
    ) -> wasmtime::Result<Result<CodedColumnBatch, ReadError>> {
        Ok(self.read(
            table,
            start,
            end,
            Some((&columns, &coded)),
            |source, table, start, end| {
                source.read_coded_column_batch(TableSpan::new(table, start, end), &columns, &coded)
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_of_no_column_or_of_one_column_twice_plain_or_coded_is_the_processors_own_error() {
        let table = TableName::new("nba_raw", "schedule");
        let message = |columns: &[&str], coded: &[&str]| {
            let names = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            match refused_column_list(&table, &names(columns), &names(coded)) {
                Some(ReadError::UnknownTable(message)) => Some(message),
                other => other.map(|e| format!("{e:?}")),
            }
        };
        assert_eq!(
            message(&[], &[]).as_deref(),
            Some("nba_raw.schedule: no columns asked for: a read names at least one")
        );
        assert_eq!(
            message(&["game_id", "home_team", "game_id"], &[]).as_deref(),
            Some("nba_raw.schedule: column `game_id` asked for twice")
        );
        assert_eq!(
            message(&["game_id"], &["home_team", "away_team", "home_team"]).as_deref(),
            Some("nba_raw.schedule: column `home_team` asked for coded twice")
        );
        assert_eq!(message(&["game_id", "home_team"], &[]), None);
        assert_eq!(
            message(&["game_id", "home_team"], &["home_team"]),
            None,
            "a column may come both plain and coded"
        );
    }

    #[test]
    fn the_memory_cap_is_the_sum_of_every_memory_and_table_of_the_instance() {
        let mut cap = MemoryCap::new(100 << 20);
        // Two memories of 40 MiB each fit; a third one does not.
        assert!(cap.memory_growing(0, 40 << 20, None).unwrap());
        assert!(cap.memory_growing(0, 40 << 20, None).unwrap());
        let refused = cap.memory_growing(0, 40 << 20, None).unwrap_err();
        assert_eq!(
            refused.downcast_ref::<LimitBreach>(),
            Some(&LimitBreach::Memory {
                limit: 100 << 20,
                observed: 120 << 20
            })
        );
        // Growing one of them counts only what it adds.
        assert!(cap.memory_growing(40 << 20, 50 << 20, None).unwrap());
        assert_eq!(cap.peak(), 90 << 20);
        // Tables count too, by element.
        assert!(cap.table_growing(0, 1024, None).unwrap());
        assert!(cap.table_growing(1024, 2 << 20, None).is_err());
    }

    fn budget(lines: u64, bytes: u64, message: u64) -> GuestLogs {
        GuestLogs::new(&RunLimits {
            max_log_lines: lines,
            max_log_bytes: bytes,
            max_log_message_bytes: message,
            ..RunLimits::default()
        })
    }

    #[test]
    fn guest_log_lines_past_the_budget_are_dropped_and_counted() {
        let mut logs = budget(3, 1 << 20, 100);
        for _ in 0..10 {
            logs.admit(LogLevel::Info, "line".into());
        }
        assert_eq!(logs.dropped, 7);
        let mut logs = budget(100, 10, 100);
        assert!(logs.admit(LogLevel::Info, "123456".into()).is_some());
        assert!(logs.admit(LogLevel::Info, "123456".into()).is_none());
        assert!(logs.admit(LogLevel::Info, "1".into()).is_none(), "spent");
        assert_eq!(logs.dropped, 2);
    }

    #[test]
    fn a_long_guest_message_is_cut_and_an_error_line_logs_as_a_warning() {
        let mut logs = budget(10, 1 << 20, 5);
        let (level, message) = logs.admit(LogLevel::Error, "ééééé".into()).unwrap();
        assert_eq!(level, LogLevel::Warn);
        assert_eq!(message, "éé… (6 bytes cut)");
        let mut allowed = GuestLogs::new(&RunLimits {
            guest_log_errors: true,
            ..RunLimits::default()
        });
        assert_eq!(
            allowed.admit(LogLevel::Error, "x".into()).unwrap().0,
            LogLevel::Error
        );
    }
}
