//! Test fixture: `AfterSlowProcessor` counts `SlowProcessor`'s rows for its
//! date; see the README's Expectations.

use slate_sdk::{FieldMode, FieldType, Phase, ProcessorInfo, RowSetBuilder, Value, field, table};

fixture_common::processor! {
    AfterSlowProcessor,
    info: {
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
    },
    process: |date| {
        let upstream = slate_sdk::read_rows(&table("slate_test.slow"), date, date)?;
        let mut rows = RowSetBuilder::new(&["day", "upstream_rows"]);
        rows.push(vec![
            Value::date(date),
            Value::int64(upstream.rows.len() as i64),
        ]);
        Ok(rows.finish())
    },
}
