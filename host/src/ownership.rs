//! Who may write which table: exactly one processor owns each output table.
//!
//! The host records a table's owner when its first commit creates it (or,
//! for a raw input, when the host loads it), and from then on refuses any
//! other processor that names it, at load, at deploy and at run. Tables the
//! host keeps for itself (run history, quarantine, staging, the `_slate_*`
//! tables, and on BigQuery the whole history dataset) and raw inputs are
//! never a processor's to write. Ownership moves only by an explicit,
//! recorded transfer (`slate tables transfer`).
//!
//! This module holds the decisions only, as pure functions over what the
//! store has recorded; the store records owners and transfers, and the
//! executor, the catalog and deploy ask here before they let a processor
//! near a table.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::schema::TableName;

/// Who owns a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum TableOwner {
    /// A processor, by name: the only one that may write the table.
    Processor(String),
    /// A raw input the host loads: no processor may write it.
    RawInput,
}

impl TableOwner {
    /// The owner's kind as stored: `processor` or `raw_input`.
    pub fn kind(&self) -> &'static str {
        match self {
            TableOwner::Processor(_) => "processor",
            TableOwner::RawInput => "raw_input",
        }
    }

    /// The owning processor's name, for a processor-owned table.
    pub fn processor(&self) -> Option<&str> {
        match self {
            TableOwner::Processor(name) => Some(name),
            TableOwner::RawInput => None,
        }
    }

    /// Rebuilds an owner from its stored kind and name.
    pub fn from_stored(kind: &str, name: Option<&str>) -> Option<TableOwner> {
        match (kind, name) {
            ("processor", Some(name)) => Some(TableOwner::Processor(name.to_string())),
            ("raw_input", _) => Some(TableOwner::RawInput),
            _ => None,
        }
    }
}

impl fmt::Display for TableOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableOwner::Processor(name) => f.write_str(name),
            TableOwner::RawInput => f.write_str("the host (raw input)"),
        }
    }
}

/// A table with its recorded owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedTable {
    /// The table.
    pub table: TableName,
    /// Its owner.
    pub owner: TableOwner,
    /// When the owner was recorded (created, adopted or transferred).
    pub since: DateTime<Utc>,
}

/// One recorded change of owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// The table.
    pub table: TableName,
    /// The owner before, if any was recorded.
    pub from: Option<TableOwner>,
    /// The owner after.
    pub to: TableOwner,
    /// When.
    pub at: DateTime<Utc>,
    /// Who asked for it: the host id of the operator's command.
    pub by: String,
}

impl Transfer {
    /// A transfer of `table` from `from` to `to` that `by` asks for now,
    /// stamped to the microsecond every backend keeps.
    pub fn new(table: &TableName, from: Option<TableOwner>, to: &TableOwner, by: &str) -> Self {
        Transfer {
            table: table.clone(),
            from,
            to: to.clone(),
            at: crate::store::now_to_the_microsecond(),
            by: by.to_string(),
        }
    }
}

/// The tables a backend keeps for the host: reserved by name, on every
/// backend, whether or not they exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOwned {
    /// Whole datasets no processor may write in (BigQuery's history dataset).
    pub datasets: Vec<String>,
    /// The raw inputs the host loads itself (the demo's): no processor may
    /// write one, even before its first load has recorded it.
    pub raw_inputs: Vec<TableName>,
}

impl Default for HostOwned {
    fn default() -> Self {
        HostOwned {
            datasets: Vec::new(),
            raw_inputs: crate::demo::raw_input_tables(),
        }
    }
}

/// The prefix of every host table and dataset name: `_slate_runs`,
/// `_slate_staging_*`, and any `_slate*` dataset.
pub const HOST_PREFIX: &str = "_slate";

impl HostOwned {
    /// Why `table` belongs to the host, if it does.
    pub fn reason(&self, table: &TableName) -> Option<String> {
        let reserved = |name: &str| name.to_ascii_lowercase().starts_with(HOST_PREFIX);
        if reserved(&table.dataset) || reserved(&table.table) {
            return Some(format!(
                "names starting with `{HOST_PREFIX}` are the host's"
            ));
        }
        self.datasets
            .iter()
            .find(|d| d.eq_ignore_ascii_case(&table.dataset))
            .map(|d| format!("dataset `{d}` holds the host's run history and quarantine"))
    }

    /// Whether `table` is a raw input the host loads itself.
    pub fn loads(&self, table: &TableName) -> bool {
        self.raw_inputs.iter().any(|raw| {
            raw.dataset.eq_ignore_ascii_case(&table.dataset)
                && raw.table.eq_ignore_ascii_case(&table.table)
        })
    }
}

/// What a store has recorded about ownership, read once to decide a whole
/// processor set (at load and at deploy).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    recorded: BTreeMap<TableName, TableOwner>,
    host: HostOwned,
}

impl Ledger {
    /// A ledger of these recorded owners and the backend's host names.
    pub fn new(owned: Vec<OwnedTable>, host: HostOwned) -> Self {
        Ledger {
            recorded: owned.into_iter().map(|o| (o.table, o.owner)).collect(),
            host,
        }
    }

    /// The refusals among `claimants`, in precedence order ([`decide_all`]).
    pub fn refusals(&self, claimants: &[Claimant<'_>]) -> Vec<(usize, OwnershipRefused)> {
        decide_all(claimants, &self.recorded, &self.host)
    }

    /// Whether `claimant` reads another processor's output without naming
    /// it upstream ([`OwnershipRefused::ReadsWithoutUpstream`]), beside
    /// `loaded`, the processors a host would load with it: a processor
    /// tried alone (`slate test`) is refused as it would be among them.
    pub fn read_refusal(
        &self,
        claimant: Claimant<'_>,
        loaded: &[Claimant<'_>],
    ) -> Option<OwnershipRefused> {
        reads_without_upstream(&claimant, loaded, &self.recorded, &self.host)
    }
}

/// Why a table may not be written: by a processor, or by the host loading
/// it as a raw input; or read, when it is the host's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnershipRefused {
    /// The processor declares one of the host's tables among its inputs:
    /// run history, quarantine and the rest are the host's to read.
    #[error("{processor} may not read {table}: it is owned by the host ({reason})")]
    ReadsHostTable {
        /// The processor refused.
        processor: String,
        /// The host's table it declared.
        table: TableName,
        /// Why the host owns it.
        reason: String,
    },
    /// The table is one the host keeps for itself.
    #[error("{processor} may not write {table}: it is owned by the host ({reason})")]
    HostOwned {
        /// The processor refused.
        processor: String,
        /// The table.
        table: TableName,
        /// Why the host owns it.
        reason: String,
    },
    /// The table is a raw input the host loads.
    #[error("{processor} may not write {table}: it is a raw input, owned by the host")]
    RawInput {
        /// The processor refused.
        processor: String,
        /// The table.
        table: TableName,
    },
    /// The processor reads the table it would write.
    #[error("{processor} may not write {table}: it declares the table among its own inputs")]
    ReadsItsOutput {
        /// The processor refused.
        processor: String,
        /// The table.
        table: TableName,
    },
    /// Another processor owns the table.
    #[error(
        "{processor} may not write {table}: it is owned by {owner} \
         (move it with `slate tables transfer {table} --to {processor}`)"
    )]
    OwnedByAnother {
        /// The processor refused.
        processor: String,
        /// The table.
        table: TableName,
        /// The owner.
        owner: String,
    },
    /// The processor owns another table: a version naming a new one would
    /// leave that one stale under its readers, which would go on
    /// succeeding over no new rows.
    #[error(
        "{processor} may not write {table}: it owns {owned}, which would go stale under its \
         readers; a processor keeps its table (give the new table a processor of its own name, \
         or free {owned} first: `slate tables transfer {owned} --to NAME`, or `--raw-input`)"
    )]
    KeepsItsTable {
        /// The processor refused.
        processor: String,
        /// The table it names now (boxed, as the next: they would make
        /// every store error larger).
        table: Box<TableName>,
        /// The table it owns.
        owned: Box<TableName>,
    },
    /// The table's dataset belongs to another environment: on BigQuery,
    /// hosts with another dataset prefix (`--bigquery-dataset-prefix`).
    #[error(
        "{table} is in the dataset `{dataset}`, which belongs to the Slate environment \
         whose dataset prefix is `{theirs}`, not to this one (prefix `{ours}`): no table \
         in it is read or written from here"
    )]
    OtherEnvironment {
        /// The table, as the processor named it.
        table: TableName,
        /// The dataset, with this environment's prefix.
        dataset: String,
        /// The prefix of the environment it belongs to.
        theirs: String,
        /// This environment's prefix.
        ours: String,
    },
    /// The table's dataset carries no environment label and holds no
    /// table this environment recorded: on BigQuery, it may be another
    /// environment's, made before datasets were labelled.
    #[error(
        "{table}: the dataset `{dataset}` has no `slate_environment` label and holds no \
         table this environment recorded, so it may be another environment's, made before \
         datasets were labelled; if it is this one's, label it: `{labelling}`"
    )]
    UnlabelledDataset {
        /// The table, as the processor named it.
        table: TableName,
        /// The dataset, with this environment's prefix.
        dataset: String,
        /// The `bq` command that labels it as this environment's.
        labelling: String,
    },
    /// Another processor of the same set, earlier in precedence, names the
    /// same table, and neither has written it yet: nothing is recorded,
    /// so there is nothing to transfer.
    #[error(
        "{processor} may not write {table}: {first} names it too and is loaded first \
         (bundled, then the registry, then the plugin folder), and no owner is recorded \
         yet: if {first} came from the registry, roll it back or undeploy it (`slate \
         undeploy {first}`); or give one of the two another table"
    )]
    NamedFirstBy {
        /// The processor refused.
        processor: String,
        /// The table.
        table: TableName,
        /// The processor that names it first.
        first: String,
    },
    /// The processor reads another processor's output without naming it
    /// upstream: it would run whether or not that processor had, with no
    /// check of its window and no outdated tracking.
    #[error(
        "{processor} may not read {table}: it is the output of {owner}, which {processor} \
         does not name among its upstream processors (add it, so that its runs wait for \
         {owner}'s and are checked against them)"
    )]
    ReadsWithoutUpstream {
        /// The processor refused.
        processor: String,
        /// The table it reads.
        table: TableName,
        /// The processor whose output it is.
        owner: String,
    },
    /// The host would load a processor's table as a raw input.
    #[error("{table} is owned by processor {owner}: it cannot also be a raw input")]
    ProcessorsTable {
        /// The table.
        table: TableName,
        /// The processor that owns it.
        owner: String,
    },
}

/// Whether the host may record `table` as a raw input, given its recorded
/// owner: `Ok(true)` when it must be recorded, `Ok(false)` when it is one
/// already, and an error naming the owner when a processor owns it.
pub fn adopt_as_raw_input(
    table: &TableName,
    recorded: Option<&TableOwner>,
) -> Result<bool, OwnershipRefused> {
    match recorded {
        None => Ok(true),
        Some(TableOwner::RawInput) => Ok(false),
        Some(TableOwner::Processor(owner)) => Err(OwnershipRefused::ProcessorsTable {
            table: table.clone(),
            owner: owner.clone(),
        }),
    }
}

/// What a processor claims: its name, the table it writes, the tables it
/// reads and the processors it names upstream.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    /// The processor's name.
    pub name: &'a str,
    /// Its output table.
    pub output: &'a TableName,
    /// Its declared inputs.
    pub inputs: &'a [TableName],
    /// Its upstream processors.
    pub upstream: &'a [String],
}

impl<'a> Claimant<'a> {
    /// What `spec` claims.
    pub fn of(spec: &'a crate::plugin::ProcessorSpec) -> Self {
        Claimant {
            name: &spec.name,
            output: &spec.output_table,
            inputs: &spec.inputs,
            upstream: &spec.upstream,
        }
    }
}

/// Whether `claimant` may write its output table, given the recorded
/// owner (`None` when none is recorded yet) and the host's reserved names,
/// and read its inputs: none may be the host's. `Ok` means it owns the
/// table already, or may take it at its first commit.
pub fn decide(
    claimant: Claimant<'_>,
    recorded: Option<&TableOwner>,
    host: &HostOwned,
) -> Result<(), OwnershipRefused> {
    let processor = claimant.name.to_string();
    for input in claimant.inputs {
        if let Some(reason) = host.reason(input) {
            return Err(OwnershipRefused::ReadsHostTable {
                processor,
                table: input.clone(),
                reason,
            });
        }
    }
    let table = claimant.output.clone();
    if let Some(reason) = host.reason(&table) {
        return Err(OwnershipRefused::HostOwned {
            processor,
            table,
            reason,
        });
    }
    if claimant.inputs.contains(&table) {
        return Err(OwnershipRefused::ReadsItsOutput { processor, table });
    }
    match recorded {
        None if host.loads(&table) => Err(OwnershipRefused::RawInput { processor, table }),
        None => Ok(()),
        Some(TableOwner::RawInput) => Err(OwnershipRefused::RawInput { processor, table }),
        Some(TableOwner::Processor(owner)) if owner == claimant.name => Ok(()),
        Some(TableOwner::Processor(owner)) => Err(OwnershipRefused::OwnedByAnother {
            processor,
            table,
            owner: owner.clone(),
        }),
    }
}

/// Decides a commit of `processor`'s rows to its existing output `table`,
/// whose owner on record is `recorded`: refused as [`decide`] refuses it,
/// or allowed, with the owner to record when none is (a processor takes
/// its table at its first commit).
pub fn decide_commit(
    processor: &str,
    table: &TableName,
    recorded: Option<&TableOwner>,
    host: &HostOwned,
) -> Result<Option<TableOwner>, OwnershipRefused> {
    let claimant = Claimant {
        name: processor,
        output: table,
        inputs: &[],
        upstream: &[],
    };
    decide(claimant, recorded, host)?;
    Ok(recorded
        .is_none()
        .then(|| TableOwner::Processor(processor.to_string())))
}

/// Decides a whole processor set at once, for loading and deploying.
/// `claimants` come in precedence order (bundled, then registry, then the
/// plugin folder): where two name the same table that has no recorded
/// owner, the first keeps it and the later ones are refused, so a newcomer
/// never takes a table from a processor that has simply not run yet.
/// A processor that reads another's output, on record or named by one of
/// `claimants`, must name it upstream ([`OwnershipRefused::ReadsWithoutUpstream`]).
/// Returns the refusals: those of writes by position in `claimants`, then
/// those of reads.
pub fn decide_all(
    claimants: &[Claimant<'_>],
    recorded: &BTreeMap<TableName, TableOwner>,
    host: &HostOwned,
) -> Vec<(usize, OwnershipRefused)> {
    let mut first_claim: BTreeMap<&TableName, &str> = BTreeMap::new();
    let mut refused = Vec::new();
    for (index, claimant) in claimants.iter().enumerate() {
        // A processor keeps the table it owns.
        let owned_other = recorded.iter().find(|(table, owner)| {
            *table != claimant.output && owner.processor() == Some(claimant.name)
        });
        if let Some((owned, _)) = owned_other {
            refused.push((
                index,
                OwnershipRefused::KeepsItsTable {
                    processor: claimant.name.to_string(),
                    table: Box::new(claimant.output.clone()),
                    owned: Box::new(owned.clone()),
                },
            ));
            continue;
        }
        let recorded = recorded.get(claimant.output);
        let first = first_claim.get(claimant.output).copied();
        let decided = match decide(*claimant, recorded, host) {
            Ok(()) => match first {
                Some(first) if recorded.is_none() && first != claimant.name => {
                    Err(OwnershipRefused::NamedFirstBy {
                        processor: claimant.name.to_string(),
                        table: claimant.output.clone(),
                        first: first.to_string(),
                    })
                }
                _ => Ok(()),
            },
            refused => refused,
        };
        match decided {
            Ok(()) => {
                first_claim.entry(claimant.output).or_insert(claimant.name);
            }
            Err(refusal) => refused.push((index, refusal)),
        }
    }
    // After every refusal of a write, which is the cause where both are
    // (a table transferred from the processor its readers name).
    for (index, claimant) in claimants.iter().enumerate() {
        if refused.iter().any(|(refused, _)| *refused == index) {
            continue;
        }
        if let Some(refusal) = reads_without_upstream(claimant, claimants, recorded, host) {
            refused.push((index, refusal));
        }
    }
    refused
}

/// The first input of `claimant` that is another processor's output (on
/// record, else named first by one of `claimants`, unless the host loads
/// it as a raw input) whose processor it does not name upstream.
fn reads_without_upstream(
    claimant: &Claimant<'_>,
    claimants: &[Claimant<'_>],
    recorded: &BTreeMap<TableName, TableOwner>,
    host: &HostOwned,
) -> Option<OwnershipRefused> {
    claimant.inputs.iter().find_map(|input| {
        let owner = match recorded.get(input) {
            Some(owner) => owner.processor()?,
            None if host.loads(input) => return None,
            None => claimants.iter().find(|c| c.output == input)?.name,
        };
        let named = owner == claimant.name || claimant.upstream.iter().any(|u| u == owner);
        (!named).then(|| OwnershipRefused::ReadsWithoutUpstream {
            processor: claimant.name.to_string(),
            table: input.clone(),
            owner: owner.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> TableName {
        // Not `parse`: a name in other letter case must reach the checks.
        let (dataset, table) = name.split_once('.').expect("dataset.table");
        TableName::new(dataset, table)
    }

    fn claimant<'a>(name: &'a str, output: &'a TableName, inputs: &'a [TableName]) -> Claimant<'a> {
        Claimant {
            name,
            output,
            inputs,
            upstream: &[],
        }
    }

    #[test]
    fn an_unowned_table_may_be_taken_and_an_owned_one_only_by_its_owner() {
        let output = table("nba_analytics.player_game_summary");
        let owner = TableOwner::Processor("PlayerGameSummaryProcessor".into());
        let host = HostOwned::default();
        assert_eq!(
            decide(claimant("Anyone", &output, &[]), None, &host),
            Ok(())
        );
        assert_eq!(
            decide(
                claimant("PlayerGameSummaryProcessor", &output, &[]),
                Some(&owner),
                &host
            ),
            Ok(())
        );
        let refused = decide(claimant("Thief", &output, &[]), Some(&owner), &host).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("owned by PlayerGameSummaryProcessor"),
            "{refused}"
        );
    }

    #[test]
    fn a_commit_to_a_table_with_no_owner_records_its_processor_and_later_ones_record_nothing() {
        let output = table("nba_analytics.player_game_summary");
        let ours = TableOwner::Processor("PlayerGameSummaryProcessor".into());
        let host = HostOwned::default();
        let commit = |recorded: Option<&TableOwner>| {
            decide_commit("PlayerGameSummaryProcessor", &output, recorded, &host)
        };
        assert_eq!(commit(None), Ok(Some(ours.clone())));
        assert_eq!(commit(Some(&ours)), Ok(None));
        let theirs = TableOwner::Processor("Intruder".into());
        assert!(matches!(
            commit(Some(&theirs)),
            Err(OwnershipRefused::OwnedByAnother { owner, .. }) if owner == "Intruder"
        ));
        assert!(matches!(
            commit(Some(&TableOwner::RawInput)),
            Err(OwnershipRefused::RawInput { .. })
        ));
    }

    #[test]
    fn raw_inputs_and_a_processors_own_inputs_are_never_its_output() {
        let schedule = table("nba_raw.schedule");
        let host = HostOwned::default();
        assert!(matches!(
            decide(
                claimant("Thief", &schedule, &[]),
                Some(&TableOwner::RawInput),
                &host
            ),
            Err(OwnershipRefused::RawInput { .. })
        ));
        let inputs = [schedule.clone()];
        assert!(matches!(
            decide(claimant("Loop", &schedule, &inputs), None, &host),
            Err(OwnershipRefused::ReadsItsOutput { .. })
        ));
    }

    #[test]
    fn host_tables_are_reserved_by_name_on_every_backend() {
        let bigquery = HostOwned {
            datasets: vec!["nba_reference".into()],
            ..HostOwned::default()
        };
        for name in [
            "nba_reference.processor_run_history",
            "NBA_Reference.anything",
            "nba_analytics._slate_staging_0192",
            "_slate_runs.forged",
        ] {
            let forged = table(name);
            assert!(
                matches!(
                    decide(claimant("Forger", &forged, &[]), None, &bigquery),
                    Err(OwnershipRefused::HostOwned { .. })
                ),
                "{name} must be the host's"
            );
        }
        let ordinary = table("nba_analytics.player_game_summary");
        assert_eq!(bigquery.reason(&ordinary), None);
    }

    #[test]
    fn a_processor_may_not_declare_a_host_table_among_its_inputs() {
        let bigquery = HostOwned {
            datasets: vec!["nba_reference".into()],
            ..HostOwned::default()
        };
        let output = table("slate_test.snoop");
        for name in [
            "nba_reference.processor_run_history",
            "nba_reference.processor_quarantine",
            "_slate.runs",
        ] {
            let inputs = [table("nba_raw.schedule"), table(name)];
            let refused = decide(claimant("Snoop", &output, &inputs), None, &bigquery);
            assert_eq!(
                refused,
                Err(OwnershipRefused::ReadsHostTable {
                    processor: "Snoop".into(),
                    table: table(name),
                    reason: bigquery.reason(&table(name)).unwrap(),
                }),
                "{name}"
            );
        }
        // On a backend without a history dataset, only the reserved prefix is the host's.
        let embedded = HostOwned::default();
        let raw = [table("nba_reference.players")];
        assert_eq!(
            decide(claimant("Reader", &output, &raw), None, &embedded),
            Ok(())
        );
        let refused = decide(claimant("Reader", &output, &raw), None, &bigquery).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Reader may not read nba_reference.players: it is owned by the host \
             (dataset `nba_reference` holds the host's run history and quarantine)"
        );
    }

    #[test]
    fn in_a_set_the_first_claim_on_an_unowned_table_wins() {
        let output = table("nba_precompute.player_daily_cache");
        let other = table("nba_precompute.other");
        let claimants = [
            claimant("PlayerDailyCacheProcessor", &output, &[]),
            claimant("Innocent", &other, &[]),
            claimant("Impostor", &output, &[]),
        ];
        let refused = decide_all(&claimants, &BTreeMap::new(), &HostOwned::default());
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 2);
        // Nothing is recorded: the refusal says so, and names no transfer
        // that cannot work (the table does not exist yet).
        assert!(matches!(
            &refused[0].1,
            OwnershipRefused::NamedFirstBy { first, .. } if first == "PlayerDailyCacheProcessor"
        ));
        assert_eq!(
            refused[0].1.to_string(),
            "Impostor may not write nba_precompute.player_daily_cache: \
             PlayerDailyCacheProcessor names it too and is loaded first (bundled, then the \
             registry, then the plugin folder), and no owner is recorded yet: if \
             PlayerDailyCacheProcessor came from the registry, roll it back or undeploy it \
             (`slate undeploy PlayerDailyCacheProcessor`); or give one of the two another table"
        );
    }

    #[test]
    fn a_processor_reading_anothers_output_must_name_it_upstream() {
        let summaries = table("nba_analytics.player_game_summary");
        let (cache, snoop) = (table("nba_precompute.cache"), table("slate_test.snoop"));
        let inputs = [summaries.clone()];
        let upstream = ["PlayerGameSummaryProcessor".to_string()];
        let named = Claimant {
            upstream: &upstream,
            ..claimant("Cache", &cache, &inputs)
        };
        let unnamed = claimant("Snoop", &snoop, &inputs);
        let summary = claimant("PlayerGameSummaryProcessor", &summaries, &[]);
        // Named by a processor of the set: no owner is recorded yet.
        let refused = decide_all(
            &[summary, named, unnamed],
            &BTreeMap::new(),
            &HostOwned::default(),
        );
        let expected = OwnershipRefused::ReadsWithoutUpstream {
            processor: "Snoop".into(),
            table: summaries.clone(),
            owner: "PlayerGameSummaryProcessor".into(),
        };
        assert_eq!(refused, [(2, expected.clone())]);
        assert_eq!(
            expected.to_string(),
            "Snoop may not read nba_analytics.player_game_summary: it is the output of \
             PlayerGameSummaryProcessor, which Snoop does not name among its upstream \
             processors (add it, so that its runs wait for PlayerGameSummaryProcessor's and \
             are checked against them)"
        );
        // On record, with its processor not in the set.
        let recorded = BTreeMap::from([(
            summaries.clone(),
            TableOwner::Processor("PlayerGameSummaryProcessor".into()),
        )]);
        let refused = decide_all(&[named, unnamed], &recorded, &HostOwned::default());
        assert_eq!(refused, [(1, expected)]);
        // A raw input has no processor to name, on record or loaded by the
        // host, even where a processor of the set names it (and is refused).
        let raw = BTreeMap::from([(summaries.clone(), TableOwner::RawInput)]);
        assert_eq!(decide_all(&[unnamed], &raw, &HostOwned::default()), []);
        let loaded = HostOwned {
            raw_inputs: vec![summaries.clone()],
            ..HostOwned::default()
        };
        let refused = decide_all(&[summary, unnamed], &BTreeMap::new(), &loaded);
        assert_eq!(refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_recorded_owner_beats_precedence_in_a_set() {
        let output = table("slate_test.versioned");
        let recorded = BTreeMap::from([(
            output.clone(),
            TableOwner::Processor("VersionedProcessor".into()),
        )]);
        let claimants = [
            claimant("RenamedProcessor", &output, &[]),
            claimant("VersionedProcessor", &output, &[]),
        ];
        let refused = decide_all(&claimants, &recorded, &HostOwned::default());
        assert_eq!(refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn a_processor_owning_a_table_may_not_name_another_until_it_is_freed() {
        let (owned, renamed) = (table("slate_test.versioned"), table("slate_test.versionee"));
        let recorded = BTreeMap::from([(
            owned.clone(),
            TableOwner::Processor("VersionedProcessor".into()),
        )]);
        let claimants = [claimant("VersionedProcessor", &renamed, &[])];
        let refused = decide_all(&claimants, &recorded, &HostOwned::default());
        assert_eq!(
            refused,
            [(
                0,
                OwnershipRefused::KeepsItsTable {
                    processor: "VersionedProcessor".into(),
                    table: Box::new(renamed.clone()),
                    owned: Box::new(owned.clone()),
                }
            )]
        );
        assert!(
            refused[0]
                .1
                .to_string()
                .contains("it owns slate_test.versioned, which would go stale under its readers"),
            "{}",
            refused[0].1
        );
        // Transferred away (here: to the host, as a raw input), it is free.
        let freed = BTreeMap::from([(owned.clone(), TableOwner::RawInput)]);
        assert_eq!(decide_all(&claimants, &freed, &HostOwned::default()), []);
    }
}
