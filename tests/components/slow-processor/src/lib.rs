//! Test fixture: `SlowProcessor` spins while its control row says `spin`;
//! see the README's Expectations.

use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowExt, RowSet, RowSetBuilder, UpstreamPolicy, Value, field,
    table,
};

/// The fixture processor.
pub struct SlowProcessor;

/// Spins until the host stops the instance.
fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

impl Guest for SlowProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "SlowProcessor".into(),
            phase: Phase::Analytics,
            version: "0.0.1".into(),
            output_table: table("slate_test.slow"),
            schema: vec![
                field(
                    "day",
                    FieldType::Date,
                    FieldMode::Required,
                    "The analysis date.",
                ),
                field("n", FieldType::Int64, FieldMode::Required, "Row number."),
            ],
            partition_column: "day".into(),
            key_columns: vec!["n".into()],
            inputs: vec![table("slate_test.slow_control")],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let control = slate_sdk::read_rows(&table("slate_test.slow_control"), date, date)?;
        let mode = Columns::new(&control).index("mode")?;
        for row in &control.rows {
            if row.string(mode, "mode")? == "spin" {
                spin_forever();
            }
        }
        let mut rows = RowSetBuilder::new(&["day", "n"]);
        for n in 0..3 {
            rows.push(vec![Value::date(date), Value::int64(n)]);
        }
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(SlowProcessor);
