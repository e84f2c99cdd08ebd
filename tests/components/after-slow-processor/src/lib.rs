//! Test fixture: `AfterSlowProcessor` counts `SlowProcessor`'s rows for its
//! date; see the README's Expectations.

use slate_sdk::{
    Date, FieldMode, FieldType, Guest, Phase, ProcessError, ProcessorInfo, RowSet, RowSetBuilder,
    Value, field, table,
};

/// The fixture processor.
pub struct AfterSlowProcessor;

impl Guest for AfterSlowProcessor {
    fn info() -> ProcessorInfo {
        let schema = vec![
            field(
                "day",
                FieldType::Date,
                FieldMode::Required,
                "The analysis date.",
            ),
            field(
                "upstream_rows",
                FieldType::Int64,
                FieldMode::Required,
                "SlowProcessor's rows.",
            ),
        ];
        ProcessorInfo {
            phase: Phase::Precompute,
            key_columns: vec!["day".into()],
            inputs: vec![table("slate_test.slow")],
            upstream: vec!["SlowProcessor".into()],
            ..fixture_common::info("AfterSlowProcessor", "slate_test.after_slow", schema)
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let upstream = slate_sdk::read_rows(&table("slate_test.slow"), date, date)?;
        let mut rows = RowSetBuilder::new(&["day", "upstream_rows"]);
        rows.push(vec![
            Value::date(date),
            Value::int64(upstream.rows.len() as i64),
        ]);
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(AfterSlowProcessor);
