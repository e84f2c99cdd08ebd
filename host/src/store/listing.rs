//! Listing run history as the commands and the HTTP API show it: a
//! version's hash as the tables print it (its first characters) matches
//! every version it starts, and a listing cut by its limit says so, so
//! that no reader takes the newest N runs for all of them.

use super::{RunLedger, StoreError};
use crate::runs::{RunFilter, RunRecord};

/// The length of a plugin's content hash, as hex.
pub const FULL_HASH_LENGTH: usize = 64;

/// One listing of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, newest first, at most the filter's limit.
    pub runs: Vec<RunRecord>,
    /// Whether more runs matched than the limit let through.
    pub truncated: bool,
}

/// The runs `filter` selects, newest first, and whether its limit left
/// some out. A `plugin_hash` shorter than a whole hash matches every
/// version whose hash starts with it.
pub fn list_runs(ledger: &dyn RunLedger, filter: &RunFilter) -> Result<RunPage, StoreError> {
    let prefix = (filter.plugin_hash.as_deref()).filter(|hash| hash.len() < FULL_HASH_LENGTH);
    let runs = match prefix {
        Some(prefix) => {
            let mut runs = ledger.runs(&RunFilter {
                plugin_hash: None,
                limit: None,
                ..filter.clone()
            })?;
            runs.retain(|run| run.plugin_hash.starts_with(prefix));
            runs
        }
        // One more than the limit tells whether it cut any.
        None => ledger.runs(&RunFilter {
            limit: filter.limit.map(|limit| limit.saturating_add(1)),
            ..filter.clone()
        })?,
    };
    Ok(page(runs, filter.limit))
}

/// `runs` (newest first) cut to `limit`, saying whether it cut any.
pub fn page(mut runs: Vec<RunRecord>, limit: Option<usize>) -> RunPage {
    let limit = limit.unwrap_or(usize::MAX);
    let truncated = runs.len() > limit;
    runs.truncate(limit);
    RunPage { runs, truncated }
}
