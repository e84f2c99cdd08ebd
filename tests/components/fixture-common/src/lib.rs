//! What every test fixture processor shares unless it says otherwise: an
//! `info` that reads nothing and blocks on everything, and rows numbered
//! from 0 under a `day` and an `n` column. A fixture (or a fixture family's
//! own common crate) is this plus what makes it that fixture, written with
//! struct update syntax over [`info`]. [`processor!`] writes the rest of a
//! fixture crate: its struct, its `Guest` implementation and its export,
//! so the crate holds only its `info` and what its `process` does.

use slate_sdk::{
    BadRowPolicy, Date, Field, FieldMode, FieldType, GapPolicy, Lookback, Phase, ProcessorInfo,
    RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

/// `info` for a fixture named `name` writing `output` (`dataset.table`)
/// with `schema`: an analytics processor at version 0.0.1, partitioned by
/// `day` and keyed by `n`, that reads nothing, has no upstream and no
/// lookback, blocks on a missing upstream or a gap, and fails its run on
/// a bad row.
pub fn info(name: &str, output: &str, schema: Vec<Field>) -> ProcessorInfo {
    ProcessorInfo {
        name: name.into(),
        phase: Phase::Analytics,
        version: "0.0.1".into(),
        output_table: table(output),
        schema,
        partition_column: "day".into(),
        key_columns: vec!["n".into()],
        inputs: vec![],
        upstream: vec![],
        lookback: Lookback::None,
        upstream_policy: UpstreamPolicy::Block,
        gap_policy: GapPolicy::Block,
        bad_row_policy: BadRowPolicy::FailRun,
    }
}

/// The schema of numbered rows: `day` (the analysis date) and `n` (the
/// row number), both REQUIRED, then `more`.
pub fn numbered_schema(more: impl IntoIterator<Item = Field>) -> Vec<Field> {
    let mut schema = vec![
        field(
            "day",
            FieldType::Date,
            FieldMode::Required,
            "The analysis date.",
        ),
        field("n", FieldType::Int64, FieldMode::Required, "Row number."),
    ];
    schema.extend(more);
    schema
}

/// `count` rows for `date` under `columns`, which begin with `day` and
/// `n`: row `n` holds `date`, `n`, then the values `more`.
pub fn numbered_rows(date: Date, count: i64, columns: &[&str], more: &[Value]) -> RowSet {
    let mut rows = RowSetBuilder::new(columns);
    for n in 0..count {
        let mut row = vec![Value::date(date), Value::int64(n)];
        row.extend_from_slice(more);
        rows.push(row);
    }
    rows.finish()
}

/// Declares the fixture processor `$name`: a unit struct whose
/// [`Guest`](slate_sdk::Guest) implementation answers `info` with the
/// `info:` expression and runs `process` as the `process:` body, exported
/// when built as a component. The calling crate depends on `slate-sdk`.
///
/// ```ignore
/// fixture_common::processor! {
///     HostilePanic,
///     info: hostile_common::info("HostilePanic", "hostile_panic"),
///     process: |date| panic!("hostile panic on {date}"),
/// }
/// ```
#[macro_export]
macro_rules! processor {
    ($name:ident, info: $info:expr, process: |$date:pat_param| $process:expr $(,)?) => {
        #[doc = concat!("The `", stringify!($name), "` fixture processor.")]
        pub struct $name;

        impl ::slate_sdk::Guest for $name {
            fn info() -> ::slate_sdk::ProcessorInfo {
                $info
            }

            fn process(
                $date: ::slate_sdk::Date,
            ) -> ::core::result::Result<::slate_sdk::RowSet, ::slate_sdk::ProcessError> {
                $process
            }
        }

        #[cfg(target_arch = "wasm32")]
        ::slate_sdk::export!($name);
    };
}
