//! Test fixture: `ContractV010Processor`, built against `wit/` here, a
//! frozen copy of the `slate:processor@0.1.0` WIT, with `wit-bindgen`
//! alone (the SDK follows the current contract). It reads the `day` and
//! `name` columns of `slate_test.every_type` through `read-column-batch`
//! and writes them back, so a test can check that a host serving a later
//! `0.1.x` links it and serves its reads unchanged. Never edit `wit/`:
//! it is what components built before 0.1.1 were built against.

#![allow(missing_docs)]

wit_bindgen::generate!({
    world: "processor-plugin",
    path: "wit",
});

use exports::slate::processor::processor::{
    BadRowPolicy, GapPolicy, Guest, Lookback, Phase, ProcessError, ProcessorInfo, UpstreamPolicy,
};
use slate::processor::host::read_column_batch;
use slate::processor::types::{
    ColumnValues, Date, Field, FieldMode, FieldType, RowSet, Scalar, TableRef, Value,
};

fn table(dataset: &str, table: &str) -> TableRef {
    TableRef {
        dataset: dataset.into(),
        table: table.into(),
    }
}

fn field(name: &str, field_type: FieldType, mode: FieldMode) -> Field {
    Field {
        name: name.into(),
        field_type,
        mode,
        allow_non_finite: false,
        description: "Copied from slate_test.every_type.".into(),
    }
}

struct ContractV010Processor;

impl Guest for ContractV010Processor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "ContractV010Processor".into(),
            phase: Phase::Precompute,
            version: "0.1.0".into(),
            output_table: table("slate_test", "contract_v0_1_0"),
            schema: vec![
                field("day", FieldType::Date, FieldMode::Required),
                field("name", FieldType::String, FieldMode::Nullable),
            ],
            partition_column: "day".into(),
            key_columns: vec!["name".into()],
            inputs: vec![table("slate_test", "every_type")],
            upstream: Vec::new(),
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let columns = ["name".to_string()];
        let batch = read_column_batch(&table("slate_test", "every_type"), date, date, &columns)
            .map_err(|e| ProcessError::MissingData(format!("{e:?}")))?;
        let name = &batch.columns[0];
        let ColumnValues::String(text) = &name.values else {
            return Err(ProcessError::Internal("`name` is not packed text".into()));
        };
        let mut rows = Vec::new();
        let mut start = 0;
        for (row, &end) in text.ends.iter().enumerate() {
            let null = name
                .nulls
                .get(row / 8)
                .is_some_and(|byte| byte >> (row % 8) & 1 == 1);
            let cell = match null {
                true => Value::Null,
                false => Value::Scalar(Scalar::String(
                    text.text[start as usize..end as usize].to_string(),
                )),
            };
            start = end;
            rows.push(vec![Value::Scalar(Scalar::Date(date)), cell]);
        }
        Ok(RowSet {
            columns: vec!["day".into(), "name".into()],
            rows,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(ContractV010Processor);
