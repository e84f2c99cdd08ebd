//! Partitions already read, kept packed in memory, so that a run reading
//! a season to date reads from the store only the dates no run has read
//! yet. The embedded store and the PostgreSQL store each keep one; what
//! tells each which dates changed is its own (below, and in
//! `postgres/tables.rs`: a version per written partition, shared by hosts).
//!
//! PlayerShotZoneAnalysis, PlayerDailyCache, PlayerCompositeFactors and
//! TeamDefenseZoneAnalysis each read every earlier game of the season, every
//! day: over a season that is the same rows read 80 times on average. The
//! cache keeps each (table, columns) read as one packed batch per partition
//! date, with the dates read so far (with rows or without), and answers a
//! read by fetching only the missing dates and joining the rest.
//!
//! It must never answer with rows that are no longer in the table:
//! - the store replaces a table's rows one set of dates at a time, in one
//!   place, which tells the cache the dates ([`ReadCache::forget_dates`]):
//!   only those dates are read again, so a backfill that writes date d of
//!   a table before reading the season to date d of it keeps the rest;
//! - every row the embedded store's connection inserts, updates or deletes
//!   also marks its table through SQLite's update hook
//!   ([`ReadCache::written_tables`]);
//!   a table written with no dates told is dropped whole before the next
//!   read, so a write by any other path cannot leave stale rows either;
//! - a commit by any other connection (another `slate` process on the same
//!   file) changes SQLite's `data_version`, and then everything is dropped.
//!   (PostgreSQL passes a constant and forgets the dates whose version moved.)
//!
//! A coded read (`read-coded-column-batch`) keeps, beside an entry's
//! partitions, a [`Dictionary`] per coded column and each partition's codes,
//! made when the partition is first read coded: a season-to-date read then
//! joins codes made before instead of hashing every row's text again. The
//! dictionary holds the texts of every date read coded so far, later dates
//! and dates outside a reader's window among them, so no read is answered
//! with it: each gets the texts its own rows have, renumbered
//! ([`CodedBuilder::finish_with_texts_of_its_rows`]). A dictionary that
//! comes to hold more texts than the rows it codes starts again.
//!
//! Partitions are dropped, least recently read first, when the cache holds
//! more than its limit in bytes. A read wider than a few years, or any read
//! when the limit is 0, goes to SQLite directly.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, btree_map};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDate;

use crate::column_batch::{ColumnBatch, ColumnBuilder, PackedText, Packing};
use crate::schema::TableName;
use crate::store::input::InputError;
use crate::text_codes::{
    CodedBuilder, CodedColumnBatch, Dictionary, NotText, code_batch, codes_of,
};

/// How many bytes of packed partitions a store keeps by default.
pub const DEFAULT_READ_CACHE_BYTES: usize = 256 << 20;

/// The widest read, in days, that goes through the cache.
const WIDEST_CACHED_READ_DAYS: i64 = 1_500;

/// One column of a cached read: its name and how it packs.
pub(crate) type ColumnPlan = (String, Option<Packing>);

/// Packed partitions of the store's tables, by table and columns read.
pub(crate) struct ReadCache {
    limit_bytes: usize,
    /// Tables the update hook saw written since the last read.
    written: Arc<Mutex<HashSet<String>>>,
    /// The dates of each table the store said it replaced since the last read.
    replaced: Mutex<HashMap<String, BTreeSet<NaiveDate>>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// SQLite's `data_version` when the cache was last checked.
    data_version: Option<i64>,
    entries: HashMap<(String, Vec<String>), Entry>,
    bytes: usize,
    clock: u64,
}

/// One (table, columns) read: the dates read so far and their rows.
#[derive(Default)]
struct Entry {
    loaded: BTreeSet<NaiveDate>,
    /// Shared, so that a read joins them after letting go of the cache.
    partitions: BTreeMap<NaiveDate, Arc<ColumnBatch>>,
    /// By the column's position in the read: the codes of the column's
    /// partitions read coded so far.
    coded: BTreeMap<usize, CodedPartitions>,
    bytes: usize,
    last_read: u64,
}

/// One column's dictionary and the codes it gave each partition's rows.
#[derive(Default)]
struct CodedPartitions {
    dictionary: Dictionary,
    codes: BTreeMap<NaiveDate, Arc<[u32]>>,
}

impl CodedPartitions {
    /// The bytes counted for the dictionary and every partition's codes.
    fn bytes(&self) -> usize {
        let codes: usize = self.codes.values().map(|codes| 4 * codes.len()).sum();
        self.dictionary.bytes() + codes
    }

    /// The codes of column `index` of each of `partitions`, each partition
    /// coded the first time it is asked for, and its codes kept; with the
    /// dictionary's texts as they then are (for the join to take its rows'
    /// texts from, never to hand on). Also returns how many bytes the codes
    /// and the dictionary grew by.
    fn codes_for(
        &mut self,
        index: usize,
        partitions: &[(NaiveDate, Arc<ColumnBatch>)],
    ) -> Result<(CodedSnapshot, usize), NotText> {
        let mut grown = 0;
        let mut codes = Vec::with_capacity(partitions.len());
        for (date, partition) in partitions {
            let known = match self.codes.entry(*date) {
                btree_map::Entry::Occupied(codes) => codes.into_mut(),
                btree_map::Entry::Vacant(slot) => {
                    let before = self.dictionary.bytes();
                    let made = codes_of(&partition.columns[index], &mut self.dictionary)?;
                    grown += self.dictionary.bytes() - before + 4 * made.len();
                    slot.insert(made.into())
                }
            };
            codes.push(Arc::clone(known));
        }
        let snapshot = CodedSnapshot {
            index,
            texts: self.dictionary.texts().clone(),
            codes,
        };
        Ok((snapshot, grown))
    }
}

/// What a read takes from the cache while holding it: the partitions and
/// codes it joins, shared, so that the copying happens after the cache is
/// let go of and reads of other runs proceed meanwhile.
pub(crate) struct Snapshot {
    /// The columns read, the last `coded` of them coded.
    columns: Vec<ColumnPlan>,
    coded: usize,
    taken: Taken,
}

/// Where a [`Snapshot`]'s rows come from.
enum Taken {
    /// Batches fetched for this read alone, not kept: to be joined and coded.
    Fetched(Vec<ColumnBatch>),
    /// Partitions and codes kept in the cache.
    Cached {
        partitions: Vec<(NaiveDate, Arc<ColumnBatch>)>,
        codes: Vec<CodedSnapshot>,
    },
}

/// One coded column of a [`Snapshot`]: its kept dictionary's texts and
/// each partition's codes into them.
struct CodedSnapshot {
    index: usize,
    texts: PackedText,
    codes: Vec<Arc<[u32]>>,
}

impl Snapshot {
    /// The read's rows as one batch, its coded columns through the
    /// dictionaries taken with them.
    pub(crate) fn join(self, table: &str) -> Result<CodedColumnBatch, InputError> {
        let Snapshot {
            columns,
            coded,
            taken,
        } = self;
        match taken {
            Taken::Fetched(batches) => {
                let batch = join(&columns, batches.iter())?;
                code_batch(batch, coded)
                    .map_err(|refused| InputError::Storage(format!("{table}: {refused}")))
            }
            Taken::Cached { partitions, codes } => {
                let plain = columns.len() - coded;
                let batch = join(
                    &columns[..plain],
                    partitions.iter().map(|(_, b)| b.as_ref()),
                )?;
                let coded = codes
                    .into_iter()
                    .map(|column| {
                        let name = &columns[column.index].0;
                        let mut builder = CodedBuilder::new(name, batch.row_count as usize);
                        for (codes, (_, partition)) in column.codes.iter().zip(&partitions) {
                            builder.extend(codes, &partition.columns[column.index].nulls);
                        }
                        builder.finish_with_texts_of_its_rows(&column.texts)
                    })
                    .collect();
                Ok(CodedColumnBatch { batch, coded })
            }
        }
    }
}

impl ReadCache {
    /// An empty cache that keeps at most `limit_bytes` of partitions.
    pub(crate) fn new(limit_bytes: usize) -> Self {
        ReadCache {
            limit_bytes,
            written: Arc::default(),
            replaced: Mutex::default(),
            state: Mutex::default(),
        }
    }

    /// Notes that the rows of `dates` of `table` (its SQLite name) are
    /// being replaced: the next read reads those dates again.
    pub(crate) fn forget_dates(&self, table: &str, dates: &[NaiveDate]) {
        lock(&self.replaced)
            .entry(table.to_string())
            .or_default()
            .extend(dates.iter().copied());
    }

    /// Marks a table written, so its partitions are dropped before the
    /// next read: what a store calls for each row it writes by a path that
    /// does not say which dates (the embedded store's update hook).
    pub(crate) fn written_tables(&self) -> impl Fn(&str) + Send + 'static {
        let written = Arc::clone(&self.written);
        move |table: &str| {
            let mut written = lock(&written);
            if !written.contains(table) {
                written.insert(table.to_string());
            }
        }
    }

    /// [`ReadCache::read_coded`] with nothing coded.
    #[cfg(test)]
    pub(crate) fn read(
        &self,
        table: &str,
        columns: &[ColumnPlan],
        range: (NaiveDate, NaiveDate),
        data_version: i64,
        fetch: impl FnMut(NaiveDate, NaiveDate) -> Result<Vec<(NaiveDate, ColumnBatch)>, InputError>,
    ) -> Result<ColumnBatch, InputError> {
        self.read_coded(table, columns, 0, range, data_version, fetch)
            .map(|read| read.batch)
    }

    /// The rows of `table` (its SQLite name) dated `start..=end`, with
    /// `columns` packed as planned: from the cache where the dates were
    /// read before, and through `fetch` for each run of dates that were
    /// not. `fetch(from, to)` returns the batches of the dates in
    /// `from..=to` that have rows, each with exactly `columns`.
    /// `data_version` is SQLite's `PRAGMA data_version` on the store's
    /// connection, read just before.
    ///
    /// The last `coded` of `columns` (STRING columns) come coded, through
    /// the column's dictionary: each partition coded once, when it is
    /// first read coded.
    pub(crate) fn read_coded(
        &self,
        table: &str,
        columns: &[ColumnPlan],
        coded: usize,
        range: (NaiveDate, NaiveDate),
        data_version: i64,
        fetch: impl FnMut(NaiveDate, NaiveDate) -> Result<Vec<(NaiveDate, ColumnBatch)>, InputError>,
    ) -> Result<CodedColumnBatch, InputError> {
        self.snapshot(table, columns, coded, range, data_version, fetch)?
            .join(table)
    }

    /// What [`ReadCache::read_coded`] reads, taken under the cache's lock
    /// (fetching the missing dates, coding the partitions not yet coded),
    /// and not yet joined: [`Snapshot::join`] copies it into one batch
    /// without the lock, so a store may let go of its own locks first.
    pub(crate) fn snapshot(
        &self,
        table: &str,
        columns: &[ColumnPlan],
        coded: usize,
        (start, end): (NaiveDate, NaiveDate),
        data_version: i64,
        mut fetch: impl FnMut(NaiveDate, NaiveDate) -> Result<Vec<(NaiveDate, ColumnBatch)>, InputError>,
    ) -> Result<Snapshot, InputError> {
        let coding_failed = |refused| InputError::Storage(format!("{table}: {refused}"));
        let uncached = self.limit_bytes == 0 || start > end;
        if uncached || (end - start).num_days() > WIDEST_CACHED_READ_DAYS {
            return Ok(Snapshot {
                columns: columns.to_vec(),
                coded,
                taken: Taken::Fetched(fetch(start, end)?.into_iter().map(|(_, b)| b).collect()),
            });
        }
        let mut state = lock(&self.state);
        if state.data_version != Some(data_version) {
            state.forget_all();
            state.data_version = Some(data_version);
        }
        let mut replaced = std::mem::take(&mut *lock(&self.replaced));
        for written in lock(&self.written).drain() {
            match replaced.remove(&written) {
                Some(dates) => state.forget_dates(&written, &dates),
                None => state.forget_table(&written),
            }
        }
        // Dates told but not (yet) written: dropping them costs a re-read.
        for (table, dates) in replaced {
            state.forget_dates(&table, &dates);
        }
        state.clock += 1;
        let clock = state.clock;
        let key = (
            table.to_string(),
            columns.iter().map(|(name, _)| name.clone()).collect(),
        );
        let entry = state.entries.entry(key.clone()).or_default();
        entry.last_read = clock;
        // What the fetches add is counted even when a later one fails.
        let mut added = 0;
        let taken = (|| {
            for (from, to) in missing_ranges(&entry.loaded, start, end) {
                for (date, batch) in fetch(from, to)? {
                    let bytes = batch_bytes(&batch);
                    entry.bytes += bytes;
                    added += bytes;
                    entry.partitions.insert(date, Arc::new(batch));
                }
                entry
                    .loaded
                    .extend(from.iter_days().take_while(|day| *day <= to));
            }
            let partitions: Vec<(NaiveDate, Arc<ColumnBatch>)> = entry
                .partitions
                .range(start..=end)
                .map(|(date, batch)| (*date, Arc::clone(batch)))
                .collect();
            let mut codes = Vec::with_capacity(coded);
            for index in columns.len() - coded..columns.len() {
                let column = entry.coded.entry(index).or_default();
                let (taken, grown) = column
                    .codes_for(index, &partitions)
                    .map_err(coding_failed)?;
                entry.bytes += grown;
                added += grown;
                codes.push(taken);
            }
            Ok(Snapshot {
                columns: columns.to_vec(),
                coded,
                taken: Taken::Cached { partitions, codes },
            })
        })();
        state.bytes += added;
        state.evict_over(self.limit_bytes, &key);
        taken
    }
}

impl State {
    fn forget_all(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    fn forget_dates(&mut self, table: &str, dates: &BTreeSet<NaiveDate>) {
        let mut freed = 0;
        for ((name, _), entry) in self.entries.iter_mut() {
            if name != table {
                continue;
            }
            for date in dates {
                entry.loaded.remove(date);
                if let Some(batch) = entry.partitions.remove(date) {
                    let bytes = batch_bytes(&batch);
                    entry.bytes -= bytes;
                    freed += bytes;
                }
                // The dictionaries stay: their texts keep their codes.
                for column in entry.coded.values_mut() {
                    if let Some(codes) = column.codes.remove(date) {
                        entry.bytes -= 4 * codes.len();
                        freed += 4 * codes.len();
                    }
                }
            }
            // A dictionary that outgrew the rows it codes (texts rewritten
            // away, date after date) starts again: it never holds more
            // texts than rows, so a long-lived host's cache cannot fill
            // with texts no table holds any more.
            let mut outgrown = 0;
            entry.coded.retain(|_, column| {
                let rows: usize = column.codes.values().map(|codes| codes.len()).sum();
                let keep = column.dictionary.len() <= rows;
                if !keep {
                    outgrown += column.bytes();
                }
                keep
            });
            entry.bytes -= outgrown;
            freed += outgrown;
        }
        self.bytes -= freed;
    }

    fn forget_table(&mut self, table: &str) {
        let mut freed = 0;
        self.entries.retain(|(name, _), entry| {
            let keep = name != table;
            if !keep {
                freed += entry.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }

    /// Drops the least recently read entries until the cache fits in
    /// `limit`; `just_read` goes last, so a read larger than the limit is
    /// answered and then dropped.
    fn evict_over(&mut self, limit: usize, just_read: &(String, Vec<String>)) {
        while self.bytes > limit {
            let oldest = self
                .entries
                .iter()
                .filter(|(key, _)| *key != just_read)
                .min_by_key(|(_, entry)| entry.last_read)
                .map(|(key, _)| key.clone())
                .unwrap_or_else(|| just_read.clone());
            let Some(entry) = self.entries.remove(&oldest) else {
                break;
            };
            self.bytes -= entry.bytes;
        }
    }
}

/// An error naming the first of `coded`, columns planned to be read coded,
/// that does not pack as STRING.
pub(crate) fn refuse_uncodable(table: &TableName, coded: &[ColumnPlan]) -> Result<(), InputError> {
    let Some((column, packing)) = coded
        .iter()
        .find(|(_, packing)| *packing != Some(Packing::String))
    else {
        return Ok(());
    };
    Err(InputError::NotText {
        table: table.clone(),
        refused: NotText::new(column, *packing),
    })
}

/// The runs of consecutive dates in `start..=end` that are not in `loaded`.
fn missing_ranges(
    loaded: &BTreeSet<NaiveDate>,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for day in start.iter_days().take_while(|day| *day <= end) {
        if loaded.contains(&day) {
            continue;
        }
        match ranges.last_mut() {
            Some((_, to)) if to.succ_opt() == Some(day) => *to = day,
            _ => ranges.push((day, day)),
        }
    }
    ranges
}

/// The batches, in order, as one batch with `columns`.
fn join<'b>(
    columns: &[ColumnPlan],
    batches: impl Iterator<Item = &'b ColumnBatch> + Clone,
) -> Result<ColumnBatch, InputError> {
    let mut row_count = 0u32;
    for batch in batches.clone() {
        row_count = row_count
            .checked_add(batch.row_count)
            .ok_or_else(|| InputError::Storage("a read of 2^32 rows or more".to_string()))?;
    }
    let mut joined = Vec::with_capacity(columns.len());
    for (index, (name, packing)) in columns.iter().enumerate() {
        let mut builder = ColumnBuilder::new(name.clone(), *packing);
        for batch in batches.clone() {
            builder
                .extend(&batch.columns[index])
                .map_err(|e| InputError::Storage(format!("column `{name}`: {e:?}")))?;
        }
        joined.push(builder.finish());
    }
    Ok(ColumnBatch {
        row_count,
        columns: joined,
    })
}

/// About how much memory a batch holds.
fn batch_bytes(batch: &ColumnBatch) -> usize {
    use crate::column_batch::ColumnValues;
    batch
        .columns
        .iter()
        .map(|column| {
            column.nulls.len()
                + match &column.values {
                    ColumnValues::String(t) | ColumnValues::Numeric(t) | ColumnValues::Json(t) => {
                        t.text.len() + 4 * t.ends.len()
                    }
                    ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => 8 * v.len(),
                    ColumnValues::Float64(v) => 8 * v.len(),
                    ColumnValues::Boolean(v) => v.len(),
                    ColumnValues::Date(v) => 4 * v.len(),
                    ColumnValues::Values(v) => 48 * v.len(),
                }
        })
        .sum()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_batch::ColumnValues;
    use std::cell::RefCell;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, n).unwrap()
    }

    /// A one-column batch of `points` for one date.
    fn points(values: &[i64]) -> ColumnBatch {
        ColumnBatch {
            row_count: values.len() as u32,
            columns: vec![crate::column_batch::Column {
                name: "points".into(),
                nulls: Vec::new(),
                values: ColumnValues::Int64(values.to_vec()),
            }],
        }
    }

    fn plan() -> Vec<ColumnPlan> {
        vec![("points".into(), Some(Packing::Int64))]
    }

    fn values(batch: &ColumnBatch) -> Vec<i64> {
        match &batch.columns[0].values {
            ColumnValues::Int64(v) => v.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// A table with rows on the 10th and 12th: each date's points are
    /// its day number, twice; the fetches it served are recorded.
    struct Table {
        fetches: RefCell<Vec<(NaiveDate, NaiveDate)>>,
    }

    impl Table {
        fn fetch(
            &self,
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<(NaiveDate, ColumnBatch)>, InputError> {
            self.fetches.borrow_mut().push((from, to));
            Ok([day(10), day(12)]
                .into_iter()
                .filter(|d| (from..=to).contains(d))
                .map(|d| (d, points(&[d.format("%d").to_string().parse().unwrap(); 2])))
                .collect())
        }
    }

    #[test]
    fn missing_ranges_are_the_runs_of_dates_not_yet_read() {
        let loaded: BTreeSet<_> = [day(3), day(4), day(7)].into();
        assert_eq!(
            missing_ranges(&loaded, day(1), day(9)),
            [(day(1), day(2)), (day(5), day(6)), (day(8), day(9))]
        );
        assert!(missing_ranges(&loaded, day(3), day(4)).is_empty());
    }

    #[test]
    fn a_read_fetches_only_the_dates_no_read_fetched_before() {
        let cache = ReadCache::new(1 << 20);
        let table = Table {
            fetches: RefCell::default(),
        };
        let first = cache
            .read("t", &plan(), (day(9), day(10)), 1, |a, b| table.fetch(a, b))
            .unwrap();
        assert_eq!(values(&first), [10, 10]);
        let second = cache
            .read("t", &plan(), (day(9), day(12)), 1, |a, b| table.fetch(a, b))
            .unwrap();
        assert_eq!(values(&second), [10, 10, 12, 12]);
        assert_eq!(second.row_count, 4);
        let third = cache
            .read("t", &plan(), (day(11), day(12)), 1, |a, b| {
                table.fetch(a, b)
            })
            .unwrap();
        assert_eq!(values(&third), [12, 12]);
        assert_eq!(
            *table.fetches.borrow(),
            [(day(9), day(10)), (day(11), day(12))],
            "the third read and the 9th and 10th again came from memory"
        );
    }

    #[test]
    fn a_written_table_or_another_connections_commit_is_read_again() {
        let cache = ReadCache::new(1 << 20);
        let table = Table {
            fetches: RefCell::default(),
        };
        let read = |version| {
            cache
                .read("t", &plan(), (day(10), day(10)), version, |a, b| {
                    table.fetch(a, b)
                })
                .unwrap()
        };
        read(1);
        read(1);
        assert_eq!(table.fetches.borrow().len(), 1);
        lock(&cache.written).insert("t".into());
        read(1);
        assert_eq!(table.fetches.borrow().len(), 2, "a write to t drops it");
        lock(&cache.written).insert("other".into());
        read(1);
        assert_eq!(
            table.fetches.borrow().len(),
            2,
            "a write elsewhere does not"
        );
        read(2);
        assert_eq!(
            table.fetches.borrow().len(),
            3,
            "another connection committed"
        );
    }

    #[test]
    fn a_table_written_on_told_dates_is_read_again_on_those_dates_only() {
        let cache = ReadCache::new(1 << 20);
        let table = Table {
            fetches: RefCell::default(),
        };
        let read = || {
            cache
                .read("t", &plan(), (day(9), day(12)), 1, |a, b| table.fetch(a, b))
                .unwrap()
        };
        read();
        cache.forget_dates("t", &[day(12)]);
        lock(&cache.written).insert("t".into());
        assert_eq!(values(&read()), [10, 10, 12, 12]);
        assert_eq!(
            *table.fetches.borrow(),
            [(day(9), day(12)), (day(12), day(12))],
            "only the 12th was read again"
        );
    }

    #[test]
    fn a_failed_fetch_keeps_what_came_before_it_counted() {
        let cache = ReadCache::new(1 << 20);
        let table = Table {
            fetches: RefCell::default(),
        };
        cache
            .read("t", &plan(), (day(11), day(11)), 1, |a, b| {
                table.fetch(a, b)
            })
            .unwrap();
        // The 10th and the 12th are missing: the first fetch brings the
        // 10th's rows, the second fails.
        let mut calls = 0;
        let failed = cache.read("t", &plan(), (day(10), day(12)), 1, |a, b| {
            calls += 1;
            match calls {
                1 => table.fetch(a, b),
                _ => Err(InputError::Storage("disk gone".into())),
            }
        });
        assert!(failed.is_err());
        let state = lock(&cache.state);
        let entry = state.entries.values().next().unwrap();
        assert!(entry.bytes > 0);
        assert_eq!(state.bytes, entry.bytes, "every cached byte is counted");
        drop(state);
        cache.forget_dates("t", &[day(10)]);
        lock(&cache.written).insert("t".into());
        let again = cache
            .read("t", &plan(), (day(9), day(12)), 1, |a, b| table.fetch(a, b))
            .unwrap();
        assert_eq!(values(&again), [10, 10, 12, 12]);
        assert_eq!(
            lock(&cache.state).bytes,
            batch_bytes(&points(&[10, 10])) * 2
        );
    }

    /// The players of the 10th (`a`, `b`, `a`) and of the 12th (`c`,
    /// null, `b`), with their points, as one batch per date.
    fn players(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, ColumnBatch)> {
        use crate::column_batch::Cell;
        let rows: [(NaiveDate, &[Option<&str>]); 2] = [
            (day(10), &[Some("a"), Some("b"), Some("a")]),
            (day(12), &[Some("c"), None, Some("b")]),
        ];
        rows.into_iter()
            .filter(|(date, _)| (from..=to).contains(date))
            .map(|(date, names)| {
                let mut points = ColumnBuilder::new("points", Some(Packing::Int64));
                let mut player = ColumnBuilder::new("player", Some(Packing::String));
                for (row, name) in names.iter().enumerate() {
                    points.push(Cell::Integer(row as i64)).unwrap();
                    match name {
                        Some(name) => player.push(Cell::Text(name)).unwrap(),
                        None => player.push_null(),
                    }
                }
                let columns = vec![points.finish(), player.finish()];
                let batch = ColumnBatch {
                    row_count: names.len() as u32,
                    columns,
                };
                (date, batch)
            })
            .collect()
    }

    fn coded_plan() -> Vec<ColumnPlan> {
        vec![
            ("points".into(), Some(Packing::Int64)),
            ("player".into(), Some(Packing::String)),
        ]
    }

    /// Each row's text through its code, `None` where null.
    fn decoded(read: &CodedColumnBatch) -> Vec<Option<&str>> {
        let column = &read.coded[0];
        let texts = &column.dictionary;
        column
            .codes
            .iter()
            .enumerate()
            .map(|(row, &code)| {
                let null = column
                    .nulls
                    .get(row / 8)
                    .is_some_and(|b| b >> (row % 8) & 1 == 1);
                let start = match code {
                    0 => 0,
                    _ => texts.ends[code as usize - 1] as usize,
                };
                (!null).then(|| &texts.text[start..texts.ends[code as usize] as usize])
            })
            .collect()
    }

    /// The texts of a coded read's dictionary, in code order.
    fn dictionary(read: &CodedColumnBatch) -> Vec<&str> {
        let texts = &read.coded[0].dictionary;
        let mut start = 0;
        texts
            .ends
            .iter()
            .map(|&end| {
                let text = &texts.text[start..end as usize];
                start = end as usize;
                text
            })
            .collect()
    }

    #[test]
    fn a_coded_read_codes_each_partition_once_and_answers_with_its_own_rows_texts() {
        let cache = ReadCache::new(1 << 20);
        let read = |start, end| {
            cache
                .read_coded("t", &coded_plan(), 1, (start, end), 1, |a, b| {
                    Ok(players(a, b))
                })
                .unwrap()
        };

        let season = read(day(9), day(12));
        let first = read(day(10), day(10));
        let last = read(day(12), day(12));

        assert_eq!(season.coded[0].codes, [0, 1, 0, 2, 0, 1]);
        assert_eq!(
            decoded(&season),
            [Some("a"), Some("b"), Some("a"), Some("c"), None, Some("b")]
        );
        assert_eq!(first.coded[0].codes, [0, 1, 0]);
        assert_eq!(
            dictionary(&first),
            ["a", "b"],
            "the 12th's `c` is a later date's text: the 10th never sees it"
        );
        assert_eq!(last.coded[0].codes, [0, 0, 1], "renumbered, null as 0");
        assert_eq!(decoded(&last), [Some("c"), None, Some("b")]);
        assert_eq!(dictionary(&last), ["c", "b"]);
        assert_eq!(
            values(&season.batch),
            [0, 1, 2, 0, 1, 2],
            "the plain column as read"
        );
        assert_eq!(
            season.batch.columns.len(),
            1,
            "the coded column is not sent twice"
        );
        let state = lock(&cache.state);
        let entry = state.entries.values().next().unwrap();
        let player = &entry.coded[&1];
        assert_eq!(player.codes.len(), 2, "each date coded once");
        assert_eq!(player.dictionary.len(), 3);
        assert_eq!(state.bytes, entry.bytes);
    }

    #[test]
    fn a_replaced_date_is_coded_again_and_every_coded_byte_is_freed_with_it() {
        let cache = ReadCache::new(1 << 20);
        let read = || {
            cache
                .read_coded("t", &coded_plan(), 1, (day(10), day(12)), 1, |a, b| {
                    Ok(players(a, b))
                })
                .unwrap()
        };
        read();

        cache.forget_dates("t", &[day(12)]);
        lock(&cache.written).insert("t".into());
        let again = read();

        assert_eq!(again.coded[0].codes, [0, 1, 0, 2, 0, 1]);
        cache.forget_dates("t", &[day(10), day(12)]);
        lock(&cache.written).insert("t".into());
        cache
            .read_coded("t", &coded_plan(), 1, (day(11), day(11)), 1, |_, _| {
                Ok(Vec::new())
            })
            .unwrap();
        let state = lock(&cache.state);
        let entry = state.entries.values().next().unwrap();
        assert!(entry.partitions.is_empty() && entry.coded[&1].codes.is_empty());
        assert!(
            entry.coded[&1].dictionary.is_empty(),
            "a dictionary coding no rows starts again"
        );
        assert_eq!(state.bytes, 0, "nothing is left to count");
    }

    #[test]
    fn a_dictionary_that_outgrows_the_rows_it_codes_starts_again() {
        let cache = ReadCache::new(1 << 20);
        // The 10th is rewritten with new names each time: `a`, `b`, `a`,
        // then `c`, `d`, `c`, and so on.
        let round = std::cell::Cell::new(0u8);
        let fetch = |from: NaiveDate, to: NaiveDate| {
            let mut batches = players(from, to);
            for (_, batch) in &mut batches {
                let ColumnValues::String(text) = &mut batch.columns[1].values else {
                    unreachable!()
                };
                let shift = 2 * round.get();
                text.text = text.text.bytes().map(|b| (b + shift) as char).collect();
            }
            Ok(batches)
        };
        let read = || {
            cache
                .read_coded("t", &coded_plan(), 1, (day(10), day(10)), 1, fetch)
                .unwrap()
        };

        for _ in 0..5 {
            read();
            round.set(round.get() + 1);
            cache.forget_dates("t", &[day(10)]);
            lock(&cache.written).insert("t".into());
        }
        let last = read();

        assert_eq!(decoded(&last), [Some("k"), Some("l"), Some("k")]);
        let state = lock(&cache.state);
        let entry = state.entries.values().next().unwrap();
        assert_eq!(
            entry.coded[&1].dictionary.len(),
            2,
            "only the names it codes"
        );
        assert_eq!(state.bytes, entry.bytes, "every freed byte is uncounted");
        let partition: usize = entry
            .partitions
            .values()
            .map(|batch| batch_bytes(batch))
            .sum();
        assert_eq!(entry.bytes, partition + entry.coded[&1].bytes());
    }

    #[test]
    fn only_string_columns_are_read_coded() {
        let table = TableName::new("d", "t");
        let refused = refuse_uncodable(&table, &plan()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "table d.t: column `points` holds INT64, not STRING: only STRING columns can be read \
             coded"
        );
        assert!(refuse_uncodable(&table, &coded_plan()[1..]).is_ok());
    }

    #[test]
    fn the_hook_marks_every_table_the_connection_writes() {
        let cache = ReadCache::new(1 << 20);
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let mark = cache.written_tables();
        connection.update_hook(Some(move |_, _: &str, table: &str, _| mark(table)));
        connection
            .execute_batch(
                "CREATE TABLE \"a.b\" (x INTEGER); INSERT INTO \"a.b\" VALUES (1);
                 CREATE TABLE c (x INTEGER); DELETE FROM c WHERE x = 1;",
            )
            .unwrap();
        let written = lock(&cache.written).clone();
        assert_eq!(written, HashSet::from(["a.b".to_string()]));
    }

    #[test]
    fn the_least_recently_read_entry_goes_first_when_over_the_limit() {
        let one_date = batch_bytes(&points(&[10, 10]));
        let cache = ReadCache::new(2 * one_date);
        let table = Table {
            fetches: RefCell::default(),
        };
        for name in ["a", "b", "a", "c"] {
            cache
                .read(name, &plan(), (day(10), day(10)), 1, |x, y| {
                    table.fetch(x, y)
                })
                .unwrap();
        }
        let state = lock(&cache.state);
        let mut kept: Vec<&str> = state.entries.keys().map(|(t, _)| t.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["a", "c"], "b was read least recently");
        assert_eq!(state.bytes, 2 * one_date);
    }

    #[test]
    fn a_read_wider_than_the_cache_serves_goes_to_the_table() {
        let cache = ReadCache::new(1 << 20);
        let table = Table {
            fetches: RefCell::default(),
        };
        let start = day(1) - chrono::Days::new(2_000);
        for _ in 0..2 {
            let all = cache
                .read("t", &plan(), (start, day(12)), 1, |a, b| table.fetch(a, b))
                .unwrap();
            assert_eq!(values(&all), [10, 10, 12, 12]);
        }
        assert_eq!(table.fetches.borrow().len(), 2);
        assert!(lock(&cache.state).entries.is_empty());
    }
}
