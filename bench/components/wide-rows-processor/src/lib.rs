//! Benchmark component `WideRowsProcessor`: moves rows of 30 mixed columns
//! across the component boundary, as typed values or as JSON text, in the
//! direction and number its control row asks for.
//!
//! | mode | what crosses |
//! |------|--------------|
//! | `typed-out` | N generated rows returned as a typed row set |
//! | `json-out` | the same N rows returned as one JSON text cell |
//! | `typed-in` | N rows of `slate_bench.wide` read as a typed row set |
//! | `json-in` | one JSON text cell of N rows read from `slate_bench.wide_json`, parsed here |

use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, Row, RowExt, RowSet, RowSetBuilder, Scalar, UpstreamPolicy, Value,
    field, table,
};

/// The wide-rows processor.
pub struct WideRowsProcessor;

/// The 30 columns: a date, 9 strings, 8 integers, 8 floats, 2 booleans, a
/// timestamp and a nullable float.
pub fn columns() -> Vec<(String, FieldType)> {
    let mut columns = vec![("day".to_string(), FieldType::Date)];
    columns.extend((0..9).map(|i| (format!("text_{i}"), FieldType::String)));
    columns.extend((0..8).map(|i| (format!("int_{i}"), FieldType::Int64)));
    columns.extend((0..9).map(|i| (format!("float_{i}"), FieldType::Float64)));
    columns.extend((0..2).map(|i| (format!("flag_{i}"), FieldType::Bool)));
    columns.push(("stamp".to_string(), FieldType::Timestamp));
    columns
}

/// Row `n` of the generated data, for `date`.
pub fn row(date: Date, n: i64) -> Row {
    let mut row = vec![Value::date(date)];
    row.extend((0..9).map(|i| Value::string(format!("player-{n}-{i}"))));
    row.extend((0..8).map(|i| Value::int64(n * 8 + i)));
    row.extend((0..9).map(|i| Value::float64(n as f64 * 0.5 + i as f64)));
    row.extend((0..2).map(|i| Value::boolean((n + i) % 2 == 0)));
    row.push(Value::Scalar(Scalar::Timestamp(1_767_225_600_000_000 + n)));
    row
}

/// A TIMESTAMP as RFC 3339 text, as JSON carries it.
fn timestamp_text(micros: i64) -> String {
    let (seconds, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let date = slate_sdk::date_from_days(days);
    let (h, m, s) = (time / 3600, time % 3600 / 60, time % 60);
    format!("{date}T{h:02}:{m:02}:{s:02}.{fraction:06}Z")
}

fn as_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Scalar(Scalar::String(s)) => s.clone().into(),
        Value::Scalar(Scalar::Int64(v)) => (*v).into(),
        Value::Scalar(Scalar::Timestamp(v)) => timestamp_text(*v).into(),
        Value::Scalar(Scalar::Float64(v)) => (*v).into(),
        Value::Scalar(Scalar::Boolean(v)) => (*v).into(),
        Value::Scalar(Scalar::Date(d)) => d.to_string().into(),
        _ => serde_json::Value::Null,
    }
}

fn count(n: usize) -> RowSet {
    let mut rows = RowSetBuilder::new(&["rows"]);
    rows.push(vec![Value::int64(n as i64)]);
    rows.finish()
}

impl Guest for WideRowsProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "WideRowsProcessor".into(),
            phase: Phase::Analytics,
            version: "0.0.1".into(),
            output_table: table("slate_bench.wide_out"),
            schema: columns()
                .iter()
                .map(|(n, t)| field(n, *t, FieldMode::Required, ""))
                .collect(),
            partition_column: "day".into(),
            key_columns: vec![],
            inputs: vec![
                table("slate_bench.control"),
                table("slate_bench.wide"),
                table("slate_bench.wide_json"),
            ],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let control = slate_sdk::read_rows(&table("slate_bench.control"), date, date)?;
        let c = Columns::new(&control);
        let (mode, rows) = (c.index("mode")?, c.index("rows")?);
        let first = control
            .rows
            .first()
            .ok_or_else(|| ProcessError::MissingData("no control row".into()))?;
        let (mode, n) = (
            first.string(mode, "mode")?.to_string(),
            first.int64(rows, "rows")?,
        );
        let names: Vec<String> = columns().into_iter().map(|(name, _)| name).collect();
        match mode.as_str() {
            "typed-out" => Ok(RowSet {
                columns: names,
                rows: (0..n).map(|i| row(date, i)).collect(),
            }),
            "json-out" => {
                let objects: Vec<serde_json::Value> = (0..n)
                    .map(|i| {
                        let row = row(date, i);
                        names
                            .iter()
                            .zip(&row)
                            .map(|(k, v)| (k.clone(), as_json(v)))
                            .collect()
                    })
                    .collect();
                let mut out = RowSetBuilder::new(&["json"]);
                out.push(vec![Value::string(
                    serde_json::Value::Array(objects).to_string(),
                )]);
                Ok(out.finish())
            }
            "typed-in" => Ok(count(
                slate_sdk::read_rows(&table("slate_bench.wide"), date, date)?
                    .rows
                    .len(),
            )),
            "json-in" => {
                let cell = slate_sdk::read_rows(&table("slate_bench.wide_json"), date, date)?;
                let text = cell
                    .rows
                    .first()
                    .map(|r| r.string(1, "json"))
                    .transpose()?
                    .unwrap_or("[]");
                let parsed: Vec<serde_json::Value> = serde_json::from_str(text)
                    .map_err(|e| ProcessError::InvalidInput(e.to_string()))?;
                Ok(count(parsed.len()))
            }
            other => Err(ProcessError::InvalidInput(format!("unknown mode {other}"))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(WideRowsProcessor);
