//! A set of loaded processors, ordered by dependency, run date by date.
//!
//! Within one date, a processor runs only after each of its upstreams that
//! is part of the same invocation has committed its rows; otherwise it is
//! recorded as `blocked`, naming the upstream, and never silently skipped.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::dag::{self, DagError};
use crate::executor::Executor;
use crate::plugin::Plugin;
use crate::runs::{RunRecord, RunStatus, Trigger};
use crate::store::StoreError;

/// Why a selection of processors is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// A requested processor is not loaded.
    #[error("unknown processor {name}; known processors: {}", known.join(", "))]
    UnknownProcessor {
        /// The requested name.
        name: String,
        /// The names that are loaded.
        known: Vec<String>,
    },
}

/// Loaded processors in dependency order.
pub struct Pipeline {
    plugins: BTreeMap<String, Plugin>,
    order: Vec<String>,
}

impl Pipeline {
    /// Orders `plugins` by their declared dependencies.
    pub fn new(plugins: Vec<Plugin>) -> Result<Self, DagError> {
        let order = dag::order(plugins.iter().map(|p| p.spec.as_ref()))?;
        let plugins = plugins
            .into_iter()
            .map(|p| (p.spec.name.clone(), p))
            .collect();
        Ok(Pipeline { plugins, order })
    }

    /// Every processor name, in run order.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The plugin for a processor name.
    pub fn plugin(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    /// The requested processors in run order; all of them when `requested` is empty.
    pub fn select(&self, requested: &[String]) -> Result<Vec<String>, SelectionError> {
        if let Some(name) = requested
            .iter()
            .find(|n| !self.plugins.contains_key(n.as_str()))
        {
            return Err(SelectionError::UnknownProcessor {
                name: name.clone(),
                known: self.order.clone(),
            });
        }
        Ok(self
            .order
            .iter()
            .filter(|n| requested.is_empty() || requested.contains(n))
            .cloned()
            .collect())
    }

    /// Runs `selection` (names from [`Pipeline::select`]) for one date, in order.
    pub fn run_date(
        &self,
        executor: &Executor,
        date: NaiveDate,
        selection: &[String],
        trigger: Trigger,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut records: Vec<RunRecord> = Vec::with_capacity(selection.len());
        for name in selection {
            let plugin = &self.plugins[name];
            let failed_upstream = plugin.spec.upstream.iter().find_map(|upstream| {
                records
                    .iter()
                    .find(|r| &r.processor == upstream && r.status != RunStatus::Success)
            });
            let record = match failed_upstream {
                Some(upstream) => executor.record_not_run(
                    plugin,
                    date,
                    trigger,
                    RunStatus::Blocked,
                    format!(
                        "upstream {} is {} for {date} (run {})",
                        upstream.processor, upstream.status, upstream.run_id
                    ),
                )?,
                None => executor.execute(plugin, date, trigger)?,
            };
            records.push(record);
        }
        Ok(records)
    }
}
