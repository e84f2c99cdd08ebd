//! Shadow versions: a deployed version of a processor that is not active,
//! but runs beside the active one on every date it runs, with the same
//! inputs and the same upstream check, writing to a table of its own.
//!
//! A shadow run is recorded under the processor's shadow name
//! (`NAME~shadow`) with trigger `shadow`, so the live processor's latest
//! run, its completeness checks, the grid and health never see it. Its
//! table is in the [`SHADOW_DATASET`], named after the live table and the
//! version, so nothing downstream reads it, and a failing shadow never
//! fails or blocks the live run. [`replay`] runs a shadow over past dates;
//! [`compare`] diffs the two tables ([`crate::diff`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde::Serialize;

use crate::backfill::Outcome;
use crate::diff::{TableDiff, diff};
use crate::executor::Executor;
use crate::ownership::TableOwner;
use crate::pipeline::Pipeline;
use crate::plugin::Plugin;
use crate::plugin::spec::Lookback;
use crate::rows::{RowSet, Scalar, Value, naive_date};
use crate::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use crate::schema::{TableName, TableSchema};
use crate::store::input::InputError;
use crate::store::{Store, StoreError};
use crate::upstream_check::UpstreamCheck;

pub use crate::schema::SHADOW_DATASET;

/// What a shadow name ends with.
const SHADOW_SUFFIX: &str = "~shadow";

/// How many hex digits of the version's hash a shadow table's name keeps.
const HASH_DIGITS: usize = 12;

/// The name run history records a processor's shadow runs under.
pub fn shadow_name(processor: &str) -> String {
    format!("{processor}{SHADOW_SUFFIX}")
}

/// The live processor a shadow name belongs to, if it is one.
pub fn live_name(name: &str) -> Option<&str> {
    name.strip_suffix(SHADOW_SUFFIX)
}

/// The longest shadow table name: what every backend keeps whole
/// (PostgreSQL cuts names at 63 bytes).
const MAX_SHADOW_TABLE_BYTES: usize = 63;

/// The table version `hash` of a processor writes instead of `live`:
/// `dataset__table__<version>`, the live part cut short where the whole
/// would pass [`MAX_SHADOW_TABLE_BYTES`] (the version, which no other
/// component shares, keeps it apart).
pub fn shadow_table(live: &TableName, hash: &str) -> TableName {
    let version = format!("__{}", &hash[..hash.len().min(HASH_DIGITS)]);
    let mut name = format!("{}__{}", live.dataset, live.table);
    let mut room = MAX_SHADOW_TABLE_BYTES.saturating_sub(version.len());
    if name.len() > room {
        while !name.is_char_boundary(room) {
            room -= 1;
        }
        name.truncate(room);
    }
    name.push_str(&version);
    TableName::new(SHADOW_DATASET, &name)
}

/// `plugin` as the shadow of the processor of the same name: its runs are
/// recorded under [`shadow_name`] and write its [`shadow_table`]. It has no
/// upstreams of its own: it runs after the live run, on the check that
/// decided that run.
pub fn shadow_of(plugin: &Plugin) -> Plugin {
    let mut spec = (*plugin.spec).clone();
    spec.output_table = shadow_table(&spec.output_table, &plugin.hash);
    spec.name = shadow_name(&spec.name);
    spec.upstream.clear();
    spec.lookback = Lookback::None;
    spec.season = None;
    let mut shadow = plugin.clone();
    shadow.spec = Arc::new(spec);
    shadow
}

/// Why a shadow cannot be compared with its live processor.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    /// The processor is not loaded.
    #[error("no processor named {0} runs here")]
    UnknownProcessor(String),
    /// The processor has no shadow version.
    #[error("{0} has no shadow version; deploy one with `slate deploy --shadow`")]
    NoShadow(String),
    /// The shadow has not succeeded on any date of the range yet.
    #[error("the shadow of {0} has no successful run in the range; it runs beside every live run")]
    NotRun(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A table could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// A shadow compared with its live processor.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowDiff {
    /// The live processor.
    pub processor: String,
    /// The active version's hash.
    pub live_hash: String,
    /// Which versions wrote the live rows compared: each hash with the
    /// dates whose latest successful live run it made. A hash other than
    /// `live_hash` means those dates still hold an earlier version's rows
    /// (they are outdated), so the diff is against that version there.
    pub live_written_by: BTreeMap<String, Vec<NaiveDate>>,
    /// The shadow version's hash.
    pub shadow_hash: String,
    /// The live table.
    pub live_table: String,
    /// The shadow's table.
    pub shadow_table: String,
    /// The dates compared: those in the range where the shadow succeeded.
    pub dates: Vec<NaiveDate>,
    /// What differs on them.
    pub diff: TableDiff,
}

/// When `name`'s shadow version last became its shadow, as `registry`
/// records it; the start of time when it has none.
pub fn shadow_since(
    registry: &crate::registry::Registry,
    name: &str,
) -> Result<chrono::DateTime<chrono::Utc>, crate::registry::RegistryError> {
    Ok(registry
        .shadows()?
        .into_iter()
        .find(|s| s.stored.name == name)
        .map_or(chrono::DateTime::<chrono::Utc>::MIN_UTC, |s| s.since))
}

/// The dates version `hash` of `processor` succeeded on as its shadow
/// since `since`, when it last became the shadow: the runs of an earlier
/// stint as the shadow wrote a table a promotion dropped.
pub fn covered_dates(
    store: &dyn Store,
    processor: &str,
    hash: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<BTreeSet<NaiveDate>, StoreError> {
    Ok(store
        .runs(&RunFilter {
            processor: Some(shadow_name(processor)),
            status: Some(RunStatus::Success),
            plugin_hash: Some(hash.to_string()),
            ..RunFilter::default()
        })?
        .into_iter()
        .filter(|r| r.started_at >= since)
        .map(|r| r.data_date)
        .collect())
}

/// Where a processor's shadow version stands: which version, since when,
/// the table it writes, and how its runs went since it became the shadow.
/// What `slate plugins` and `GET /plugins` show of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowStanding {
    /// Its version string.
    pub version: String,
    /// Its content hash.
    pub hash: String,
    /// When it last became the shadow.
    pub since: chrono::DateTime<chrono::Utc>,
    /// The table it writes ([`shadow_table`]).
    pub table: String,
    /// How many dates it succeeded on since then.
    pub covered_dates: usize,
    /// The first of them.
    pub first_date: Option<NaiveDate>,
    /// The last of them.
    pub last_date: Option<NaiveDate>,
    /// How many of its runs since then ended without success.
    pub failed_runs: usize,
}

impl ShadowStanding {
    /// Where `shadow`, whose processor writes `live_table`, stands in
    /// `store`'s run history; with no store yet, it has run nowhere.
    pub fn of(
        store: Option<&dyn Store>,
        shadow: &crate::registry::ShadowVersion,
        live_table: &TableName,
    ) -> Result<Self, StoreError> {
        let stored = &shadow.stored;
        let (dates, failed_runs) = match store {
            Some(store) => (
                covered_dates(store, &stored.name, &stored.hash, shadow.since)?,
                shadow_run_counts(store, &stored.name, &stored.hash, shadow.since)?.1,
            ),
            None => (BTreeSet::new(), 0),
        };
        Ok(ShadowStanding {
            version: stored.version.clone(),
            hash: stored.hash.clone(),
            since: shadow.since,
            table: shadow_table(live_table, &stored.hash).to_string(),
            covered_dates: dates.len(),
            first_date: dates.first().copied(),
            last_date: dates.last().copied(),
            failed_runs,
        })
    }

    /// "N dates, FIRST to LAST" (or "no dates yet"), and "; F failed runs"
    /// when some failed.
    pub fn coverage(&self) -> String {
        let mut covered = match (self.first_date, self.last_date) {
            (Some(first), Some(last)) => format!(
                "{} {}, {first} to {last}",
                self.covered_dates,
                if self.covered_dates == 1 {
                    "date"
                } else {
                    "dates"
                }
            ),
            _ => "no dates yet".to_string(),
        };
        if self.failed_runs > 0 {
            covered.push_str(&format!(
                "; {} failed {}",
                self.failed_runs,
                if self.failed_runs == 1 { "run" } else { "runs" }
            ));
        }
        covered
    }
}

/// How the runs of version `hash` of `processor` as its shadow since
/// `since` (when it last became the shadow) ended: succeeded, and not.
pub fn shadow_run_counts(
    store: &dyn Store,
    processor: &str,
    hash: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(usize, usize), StoreError> {
    let runs = store.runs(&RunFilter {
        processor: Some(shadow_name(processor)),
        plugin_hash: Some(hash.to_string()),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    let ended = runs
        .iter()
        .filter(|r| r.started_at >= since && r.status != RunStatus::Running);
    let succeeded = ended
        .clone()
        .filter(|r| r.status == RunStatus::Success)
        .count();
    Ok((succeeded, ended.count() - succeeded))
}

/// Compares `name`'s shadow table with its live table on the dates of
/// `range` (every date when `None`) where the shadow succeeded since
/// `since`, when it last became the shadow.
pub fn compare(
    store: &dyn Store,
    pipeline: &Pipeline,
    name: &str,
    range: Option<(NaiveDate, NaiveDate)>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<ShadowDiff, ShadowError> {
    let live = pipeline
        .plugin(name)
        .ok_or_else(|| ShadowError::UnknownProcessor(name.to_string()))?;
    let shadow = pipeline
        .shadow(name)
        .ok_or_else(|| ShadowError::NoShadow(name.to_string()))?;
    let dates: BTreeSet<NaiveDate> = covered_dates(store, name, &shadow.hash, since)?
        .into_iter()
        .filter(|d| range.is_none_or(|(from, to)| (from..=to).contains(d)))
        .collect();
    let (Some(first), Some(last)) = (dates.first().copied(), dates.last().copied()) else {
        return Err(ShadowError::NotRun(name.to_string()));
    };
    // A table that does not exist yet has its declared schema and no rows.
    // A store that keeps no key (BigQuery keeps one only for raw inputs)
    // has the processor's declared key: matched by date alone, every row
    // of a date would be one row, and a changed shadow look unchanged.
    let read = |plugin: &Plugin| -> Result<(RowSet, TableSchema), ShadowError> {
        let table = &plugin.spec.output_table;
        Ok(match store.table_schema(table)? {
            Some(mut schema) => {
                if schema.key_columns.is_empty() {
                    schema.key_columns = (plugin.spec.schema.key_columns.iter())
                        .filter(|key| schema.index_of(key).is_some())
                        .cloned()
                        .collect();
                }
                let rows = store.read_rows(table, first, last)?;
                (on_dates(rows, &schema.partition_column, &dates), schema)
            }
            None => {
                let empty = RowSet {
                    columns: Vec::new(),
                    rows: Vec::new(),
                };
                (empty, plugin.spec.schema.clone())
            }
        })
    };
    let (live_rows, live_schema) = read(live)?;
    let (shadow_rows, shadow_schema) = read(shadow)?;
    Ok(ShadowDiff {
        processor: name.to_string(),
        live_hash: live.hash.clone(),
        live_written_by: written_by(store, name, &dates)?,
        shadow_hash: shadow.hash.clone(),
        live_table: live.spec.output_table.to_string(),
        shadow_table: shadow.spec.output_table.to_string(),
        dates: dates.into_iter().collect(),
        diff: diff(&live_rows, &live_schema, &shadow_rows, &shadow_schema),
    })
}

/// For each version of `processor`, the `dates` whose latest successful
/// run it made: whose rows the table holds.
fn written_by(
    store: &dyn Store,
    processor: &str,
    dates: &BTreeSet<NaiveDate>,
) -> Result<BTreeMap<String, Vec<NaiveDate>>, StoreError> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Ok(BTreeMap::new());
    };
    let successes = store.runs(&RunFilter {
        processor: Some(processor.to_string()),
        status: Some(RunStatus::Success),
        dates: Some(*first..=*last),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    // Newest first: the first of each date is the one whose rows stand.
    let mut seen = BTreeSet::new();
    let mut by_version: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for run in successes {
        if dates.contains(&run.data_date) && seen.insert(run.data_date) {
            by_version
                .entry(run.plugin_hash)
                .or_default()
                .push(run.data_date);
        }
    }
    for dates in by_version.values_mut() {
        dates.sort();
    }
    Ok(by_version)
}

/// Drops every table `processor`'s shadows wrote (those their runs own),
/// returning them: what a promotion does unless told to keep them.
pub fn drop_tables(store: &dyn Store, processor: &str) -> Result<Vec<TableName>, StoreError> {
    drop_tables_but(store, processor, None)
}

/// Drops the tables `processor`'s earlier shadows wrote, all but `kept`
/// (the shadow's now), returning them: what replacing a shadow does.
pub fn drop_tables_but(
    store: &dyn Store,
    processor: &str,
    kept: Option<&TableName>,
) -> Result<Vec<TableName>, StoreError> {
    let owner = TableOwner::Processor(shadow_name(processor));
    let mut dropped = Vec::new();
    for owned in store.table_owners()? {
        if owned.owner == owner && Some(&owned.table) != kept && store.drop_table(&owned.table)? {
            dropped.push(owned.table);
        }
    }
    Ok(dropped)
}

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// One outcome per replayed date (of the shadow's runs), in date order.
    pub outcomes: Vec<Outcome>,
    /// Dates of the range left out: the live processor has no successful
    /// run there, so there is nothing to compare with.
    pub skipped: Vec<NaiveDate>,
    /// Dates not run because the version stopped being the shadow during
    /// the replay (dropped, promoted or replaced), in date order.
    pub not_run: Vec<NaiveDate>,
}

/// Replays `name`'s shadow on every date from `from` to `to` where the
/// live processor's latest run succeeded, against the stored inputs, with
/// the upstream check recorded on that live run (so its rows get the same
/// quality issues; [`Pipeline::shadow_check`] gives a shadow that reads
/// further back the gaps of its own windows). Up to `parallelism` dates run at once; `on_outcome` is
/// told of each as it ends. Only the shadow table is written. Before each
/// date, `still_shadow` is asked whether the version is still the shadow
/// (another process may drop, promote or replace it meanwhile): once it is
/// not, no further date runs.
pub fn replay(
    executor: &Executor,
    pipeline: &Pipeline,
    name: &str,
    (from, to): (NaiveDate, NaiveDate),
    parallelism: usize,
    on_outcome: &(dyn Fn(&Outcome) + Sync),
    still_shadow: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Replay, ShadowError> {
    pipeline
        .plugin(name)
        .ok_or_else(|| ShadowError::UnknownProcessor(name.to_string()))?;
    let shadow = pipeline
        .shadow(name)
        .ok_or_else(|| ShadowError::NoShadow(name.to_string()))?;
    let history = executor.store().runs(&RunFilter {
        processor: Some(name.to_string()),
        ..RunFilter::default()
    })?;
    // Newest first: the first record of each date is its latest.
    let mut latest: HashMap<NaiveDate, &RunRecord> = HashMap::new();
    for run in history
        .iter()
        .filter(|r| (from..=to).contains(&r.data_date))
    {
        latest.entry(run.data_date).or_insert(run);
    }
    let mut planned: Vec<(NaiveDate, Option<UpstreamCheck>)> = Vec::new();
    let mut skipped = Vec::new();
    for date in from.iter_days().take_while(|d| *d <= to) {
        match latest.get(&date) {
            Some(live) if live.status == RunStatus::Success => {
                planned.push((date, live.upstream_check.clone()));
            }
            _ => skipped.push(date),
        }
    }
    // A recorded check keeps no read window: each date gets the one the
    // shadow declares, as a live run's check gives it.
    let declared = pipeline.shadow_declaration(name).unwrap_or(&shadow.spec);
    let scheduled = match declared.looks_back() {
        true => crate::dates::scheduled_games(executor.store().as_ref(), pipeline.calendar())?
            .into_keys()
            .collect(),
        false => std::collections::BTreeSet::new(),
    };
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(planned.len()));
    let not_run = Mutex::new(Vec::new());
    // Once the version is not the shadow, it stays stopped: the registry
    // is not asked again for every date left.
    let stopped = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..parallelism.clamp(1, planned.len().max(1)) {
            scope.spawn(|| {
                while let Some((date, check)) = planned.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if stopped.load(Ordering::SeqCst) || !still_shadow(&shadow.hash) {
                        stopped.store(true, Ordering::SeqCst);
                        let mut not_run = not_run.lock().unwrap_or_else(|e| e.into_inner());
                        not_run.push(*date);
                        continue;
                    }
                    let check = check.clone().map(|live| {
                        let mut check =
                            pipeline.shadow_check(executor.store().as_ref(), name, *date, live);
                        check.read_window = pipeline.read_window(declared, *date, &scheduled);
                        check
                    });
                    let ran = executor
                        .claim(shadow, *date, Trigger::Shadow)
                        .and_then(|claim| executor.execute_claim(claim, check));
                    let outcome = match ran {
                        Ok(record) => Outcome::from_record(&record),
                        Err(error) => Outcome::unclaimed(&shadow.spec.name, *date, &error),
                    };
                    on_outcome(&outcome);
                    outcomes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|o| o.date);
    let mut not_run = not_run.into_inner().unwrap_or_else(|e| e.into_inner());
    not_run.sort();
    Ok(Replay {
        outcomes,
        skipped,
        not_run,
    })
}

/// The rows of `rows` whose partition date is one of `dates`.
fn on_dates(mut rows: RowSet, partition_column: &str, dates: &BTreeSet<NaiveDate>) -> RowSet {
    if let Some(index) = rows.columns.iter().position(|c| c == partition_column) {
        rows.rows.retain(|row| match &row[index] {
            Value::Scalar(Scalar::Date(date)) => {
                naive_date(*date).is_some_and(|d| dates.contains(&d))
            }
            _ => false,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shadow_is_named_after_its_processor_and_its_table_after_the_live_one_and_the_version() {
        assert_eq!(
            shadow_name("PlayerDailyCacheProcessor"),
            "PlayerDailyCacheProcessor~shadow"
        );
        assert_eq!(
            live_name("PlayerDailyCacheProcessor~shadow"),
            Some("PlayerDailyCacheProcessor")
        );
        assert_eq!(live_name("PlayerDailyCacheProcessor"), None);
        let live = TableName::new("nba_precompute", "player_daily_cache");
        assert_eq!(
            shadow_table(&live, "0123456789abcdef0123").to_string(),
            "slate_shadow.nba_precompute__player_daily_cache__0123456789ab"
        );
    }

    #[test]
    fn a_shadow_table_name_is_cut_to_what_every_backend_keeps_whole_and_keeps_its_version() {
        let live = TableName::new("slate_long_dataset_name", "a_rather_long_table_name_xyz");
        let first = shadow_table(&live, "f66bf7c1a325aaaa");
        let second = shadow_table(&live, "0123456789abffff");
        assert_eq!(first.table.len(), 63, "{first}");
        assert_eq!(
            first.table,
            "slate_long_dataset_name__a_rather_long_table_name__f66bf7c1a325"
        );
        assert_ne!(first, second);
    }
}
