//! Test fixture: `ContractV011Processor`, built against `wit/` here, a
//! frozen copy of the `slate:processor@0.1.1` WIT, with `wit-bindgen`
//! alone (the SDK follows the current contract). It has no `season`
//! export, which 0.1.2 added. It reads the `name` column of
//! `slate_test.every_type` coded, through `read-coded-column-batch` (what
//! 0.1.1 added), and writes each row's text back, so a test can check that
//! a host serving a later `0.1.x` links it and serves its reads unchanged.
//! Never edit `wit/`: it is what components built before 0.1.2 were built
//! against.

#![allow(missing_docs)]

wit_bindgen::generate!({
    world: "processor-plugin",
    path: "wit",
});

use exports::slate::processor::processor::{
    BadRowPolicy, GapPolicy, Guest, Lookback, Phase, ProcessError, ProcessorInfo, UpstreamPolicy,
};
use slate::processor::host::read_coded_column_batch;
use slate::processor::types::{Date, Field, FieldMode, FieldType, RowSet, Scalar, TableRef, Value};

/// The table read: the input the 0.1.0 fixture's test writes.
fn every_type() -> TableRef {
    TableRef {
        dataset: "slate_test".into(),
        table: "every_type".into(),
    }
}

struct ContractV011Processor;

impl Guest for ContractV011Processor {
    fn info() -> ProcessorInfo {
        let column = |name: &str, field_type, mode| Field {
            name: name.into(),
            field_type,
            mode,
            allow_non_finite: false,
            description: "Decoded from slate_test.every_type.".into(),
        };
        ProcessorInfo {
            name: "ContractV011Processor".into(),
            phase: Phase::Precompute,
            version: "0.1.1".into(),
            output_table: TableRef {
                dataset: "slate_test".into(),
                table: "contract_v0_1_1".into(),
            },
            schema: vec![
                column("day", FieldType::Date, FieldMode::Required),
                column("name", FieldType::String, FieldMode::Nullable),
            ],
            partition_column: "day".into(),
            key_columns: vec!["name".into()],
            inputs: vec![every_type()],
            upstream: Vec::new(),
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        // A read names at least one column plain: `day`, which goes unused.
        let (plain, coded) = (["day".into()], ["name".into()]);
        let read = read_coded_column_batch(&every_type(), date, date, &plain, &coded)
            .map_err(|e| ProcessError::MissingData(format!("{e:?}")))?;
        let name = &read.coded[0];
        // The dictionary's texts, each ending where `ends` says.
        let texts: Vec<&str> = name
            .dictionary
            .ends
            .iter()
            .scan(0, |start, &end| {
                let text = &name.dictionary.text[*start as usize..end as usize];
                *start = end;
                Some(text)
            })
            .collect();
        let rows = name
            .codes
            .iter()
            .enumerate()
            .map(|(row, &code)| {
                let null = name
                    .nulls
                    .get(row / 8)
                    .is_some_and(|b| b >> (row % 8) & 1 == 1);
                let cell = match null {
                    true => Value::Null,
                    false => Value::Scalar(Scalar::String(texts[code as usize].into())),
                };
                vec![Value::Scalar(Scalar::Date(date)), cell]
            })
            .collect();
        Ok(RowSet {
            columns: vec!["day".into(), "name".into()],
            rows,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(ContractV011Processor);
