//! Test fixture: `SlowProcessor` spins while its control row says `spin`;
//! see the README's Expectations.

use slate_sdk::{Columns, ProcessorInfo, RowExt, table};

/// Spins until the host stops the instance.
fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fixture_common::processor! {
    SlowProcessor,
    info: ProcessorInfo {
        inputs: vec![table("slate_test.slow_control")],
        ..fixture_common::info(
            "SlowProcessor",
            "slate_test.slow",
            fixture_common::numbered_schema([]),
        )
    },
    process: |date| {
        let control = slate_sdk::read_rows(&table("slate_test.slow_control"), date, date)?;
        let mode = Columns::new(&control).index("mode")?;
        for row in &control.rows {
            if row.string(mode, "mode")? == "spin" {
                spin_forever();
            }
        }
        Ok(fixture_common::numbered_rows(date, 3, &["day", "n"], &[]))
    },
}
