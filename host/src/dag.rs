//! Orders processors by their declared upstream dependencies.
//!
//! The order is deterministic: among processors whose dependencies are all
//! placed, the lowest phase goes first, then the name. An unknown dependency
//! or a cycle is an error that names the processors involved.

use std::collections::{BTreeMap, BTreeSet};

use crate::plugin::ProcessorSpec;

/// Why a set of processors cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// A processor depends on one that is not in the set.
    #[error("{processor} depends on {missing}, which is not a known processor")]
    UnknownDependency {
        /// The processor that declared the dependency.
        processor: String,
        /// The dependency that is not in the set.
        missing: String,
    },
    /// The dependencies form a cycle, listed from and back to its first member.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// Two plugins declare the same processor name.
    #[error("two plugins are both named {0}")]
    DuplicateName(String),
}

/// The specs' names in an order where every processor follows its upstreams.
pub fn order<'a>(
    specs: impl IntoIterator<Item = &'a ProcessorSpec>,
) -> Result<Vec<String>, DagError> {
    let mut by_name: BTreeMap<&str, &ProcessorSpec> = BTreeMap::new();
    for spec in specs {
        if by_name.insert(&spec.name, spec).is_some() {
            return Err(DagError::DuplicateName(spec.name.clone()));
        }
    }
    for spec in by_name.values() {
        if let Some(missing) = spec
            .upstream
            .iter()
            .find(|u| !by_name.contains_key(u.as_str()))
        {
            return Err(DagError::UnknownDependency {
                processor: spec.name.clone(),
                missing: missing.clone(),
            });
        }
    }
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(by_name.len());
    while ordered.len() < by_name.len() {
        let next = by_name
            .values()
            .filter(|s| !placed.contains(s.name.as_str()))
            .filter(|s| s.upstream.iter().all(|u| placed.contains(u.as_str())))
            .min_by_key(|s| (s.phase, s.name.as_str()));
        match next {
            Some(spec) => {
                placed.insert(&spec.name);
                ordered.push(spec.name.clone());
            }
            None => return Err(DagError::Cycle(find_cycle(&by_name, &placed))),
        }
    }
    Ok(ordered)
}

/// Walks upstream links from an unplaced processor until one repeats.
fn find_cycle(by_name: &BTreeMap<&str, &ProcessorSpec>, placed: &BTreeSet<&str>) -> Vec<String> {
    let start = by_name
        .keys()
        .find(|n| !placed.contains(*n))
        .expect("an unplaced processor");
    let mut path: Vec<&str> = vec![start];
    loop {
        let current = by_name[path[path.len() - 1]];
        let next = current
            .upstream
            .iter()
            .map(String::as_str)
            .find(|u| !placed.contains(u))
            .expect("an unplaced processor has an unplaced upstream");
        if let Some(at) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.to_string());
            return cycle;
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::spec::{BadRowPolicy, GapPolicy, Lookback, Phase, UpstreamPolicy};
    use crate::schema::{TableName, TableSchema};

    fn spec(name: &str, phase: Phase, upstream: &[&str]) -> ProcessorSpec {
        ProcessorSpec {
            name: name.into(),
            phase,
            version: "1".into(),
            output_table: TableName::new("d", name),
            schema: TableSchema {
                columns: vec![],
                partition_column: "d".into(),
                key_columns: vec![],
            },
            inputs: vec![],
            upstream: upstream.iter().map(|s| s.to_string()).collect(),
            lookback: Lookback::None,
            season: None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    #[test]
    fn upstreams_come_first_then_phase_then_name() {
        let specs = [
            spec("Cache", Phase::Precompute, &["Summary", "Zones"]),
            spec("Zones", Phase::Precompute, &["Summary"]),
            spec("Summary", Phase::Analytics, &[]),
            spec("Defense", Phase::Analytics, &[]),
        ];
        assert_eq!(
            order(&specs).unwrap(),
            ["Defense", "Summary", "Zones", "Cache"]
        );
    }

    #[test]
    fn an_unknown_dependency_names_both_processors() {
        let specs = [spec("Cache", Phase::Precompute, &["Ghost"])];
        assert_eq!(
            order(&specs).unwrap_err().to_string(),
            "Cache depends on Ghost, which is not a known processor"
        );
    }

    #[test]
    fn a_cycle_is_named_in_order() {
        let specs = [
            spec("A", Phase::Precompute, &["C"]),
            spec("B", Phase::Precompute, &["A"]),
            spec("C", Phase::Precompute, &["B"]),
            spec("Root", Phase::Analytics, &[]),
        ];
        assert_eq!(
            order(&specs).unwrap_err().to_string(),
            "dependency cycle: A -> C -> B -> A"
        );
    }
}
