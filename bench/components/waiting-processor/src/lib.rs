//! Benchmark component `WaitingProcessor`: waits 40 ms (a host call, as a
//! processor waiting on I/O would) and writes one row for its date. It
//! uses no CPU while it waits, so a backfill of it over several hosts on
//! two cores shows how the work spreads, not how the cores are shared.

use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, RowSetBuilder, Value};

/// How long each run waits.
pub const WAIT: std::time::Duration = std::time::Duration::from_millis(40);

/// What it is and writes: one row of one DATE column per date.
pub const DECLARATION: Declaration = Declaration {
    output_table: "slate_bench.waiting",
    schema: r#"[{"name": "day", "type": "DATE", "mode": "REQUIRED", "description": "The date."}]"#,
    partition_column: "day",
    ..Declaration::new("WaitingProcessor", Phase::Analytics, "0.0.1")
};

slate_sdk::processor! {
    /// The waiting processor.
    pub struct WaitingProcessor(DECLARATION, process);
}

fn process(date: Date) -> Result<RowSet, ProcessError> {
    std::thread::sleep(WAIT);
    let mut rows = RowSetBuilder::new(&["day"]);
    rows.push(vec![Value::date(date)]);
    Ok(rows.finish())
}
