//! Benchmark component `NoopProcessor`: returns no rows and reads nothing,
//! so a run of it costs only what the host adds.

use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, RowSetBuilder};

/// What it is and writes: one DATE column, never a row.
pub const DECLARATION: Declaration = Declaration {
    output_table: "slate_bench.noop",
    schema: r#"[{"name": "day", "type": "DATE", "mode": "REQUIRED", "description": "The date."}]"#,
    partition_column: "day",
    ..Declaration::new("NoopProcessor", Phase::Analytics, "0.0.1")
};

slate_sdk::processor! {
    /// The no-op processor.
    pub struct NoopProcessor(DECLARATION, process);
}

fn process(_date: Date) -> Result<RowSet, ProcessError> {
    Ok(RowSetBuilder::new(&["day"]).finish())
}
