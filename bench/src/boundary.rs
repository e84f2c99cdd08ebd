//! Rows per second across the component boundary for a 30-column row of
//! mixed types, typed values against the same rows as JSON text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use slate::plugin::sandbox::RunIdentity;
use slate::plugin::{Plugin, RunLimits, Runtime};
use slate::rows::{RowSet, Scalar, Value, row_json, value_from_json, wit_date};
use slate::schema::TableName;
use slate::store::input::keep_columns;
use slate::store::{InputError, InputSource, TableSpan};
use slate::upstream_check::ReadWindow;

use crate::convert::row_to_host;
use crate::report::Report;
use crate::{Effort, components, time};

/// Serves whole tables from memory, cloning rows as a store would build them.
#[derive(Default)]
struct Tables(BTreeMap<TableName, RowSet>);

impl InputSource for Tables {
    fn select(
        &self,
        span: TableSpan<'_>,
        columns: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        let rows = self
            .0
            .get(span.table)
            .cloned()
            .ok_or_else(|| InputError::UnknownTable(span.table.clone()))?;
        keep_columns(span.table, rows, columns)
    }
}

fn text(s: &str) -> Value {
    Value::Scalar(Scalar::String(s.into()))
}

fn control(date: NaiveDate, mode: &str, rows: usize) -> RowSet {
    let day = Value::Scalar(Scalar::Date(wit_date(date)));
    RowSet {
        columns: vec!["day".into(), "mode".into(), "rows".into()],
        rows: vec![vec![
            day,
            text(mode),
            Value::Scalar(Scalar::Int64(rows as i64)),
        ]],
    }
}

fn run(plugin: &Plugin, source: Tables, date: NaiveDate) -> RowSet {
    let limits = RunLimits {
        memory_bytes: 2 << 30,
        ..RunLimits::default()
    };
    let identity = RunIdentity {
        processor: "WideRowsProcessor".into(),
        date,
        run_id: "bench".into(),
    };
    let mut instance = plugin
        .instantiate(
            identity,
            Arc::new(source),
            ReadWindow::default(),
            limits,
            Arc::new(AtomicBool::new(false)),
        )
        .expect("instantiate");
    instance.process(date).expect("no trap").expect("no error")
}

/// Records rows per second in each direction, typed and as JSON.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    let runtime = Runtime::new(None)?;
    let plugin = runtime.load(&std::fs::read(components::WIDE_ROWS_PROCESSOR)?)?;
    let schema = plugin.spec.schema.clone();
    let date = NaiveDate::from_ymd_opt(2026, 1, 11).expect("a date");
    let guest_date = slate_sdk::Date {
        year: 2026,
        month: 1,
        day: 11,
    };
    let (control_table, wide, wide_json) = (
        TableName::new("slate_bench", "control"),
        TableName::new("slate_bench", "wide"),
        TableName::new("slate_bench", "wide_json"),
    );
    for &n in effort.row_counts {
        let repeats = (effort.repeats * 1_000 / n).clamp(3, effort.repeats);
        let with_control = |mode: &str| {
            Tables(BTreeMap::from([(
                control_table.clone(),
                control(date, mode, n),
            )]))
        };

        let typed_out = time(repeats, || {
            assert_eq!(run(&plugin, with_control("typed-out"), date).rows.len(), n);
        });
        let json_out = time(repeats, || {
            let out = run(&plugin, with_control("json-out"), date);
            let Value::Scalar(Scalar::String(json)) = &out.rows[0][0] else {
                panic!("a JSON cell")
            };
            // The host must still turn the text into typed values.
            let objects: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_str(json).expect("JSON");
            let rows: Vec<Vec<Value>> = objects
                .iter()
                .map(|o| {
                    schema
                        .columns
                        .iter()
                        .map(|c| value_from_json(c, &o[&c.name]).expect("typed"))
                        .collect()
                })
                .collect();
            assert_eq!(rows.len(), n);
        });

        let generated = RowSet {
            columns: wide_rows_processor::columns()
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            rows: (0..n as i64)
                .map(|i| row_to_host(&wide_rows_processor::row(guest_date, i)))
                .collect(),
        };
        let typed_in = time(repeats, || {
            let mut tables = with_control("typed-in");
            tables.0.insert(wide.clone(), generated.clone());
            run(&plugin, tables, date);
        });
        let json_in = time(repeats, || {
            let mut tables = with_control("json-in");
            let text_rows: Vec<serde_json::Value> = generated
                .rows
                .iter()
                .map(|r| row_json(&generated.columns, r))
                .collect();
            let cell = serde_json::Value::Array(text_rows).to_string();
            let day = Value::Scalar(Scalar::Date(wit_date(date)));
            tables.0.insert(
                wide_json.clone(),
                RowSet {
                    columns: vec!["day".into(), "json".into()],
                    rows: vec![vec![day, text(&cell)]],
                },
            );
            run(&plugin, tables, date);
        });
        let per_second = |d: std::time::Duration| n as f64 / d.as_secs_f64();
        report.add(
            "boundary",
            format!("out of the plugin, typed, {n} rows"),
            per_second(typed_out),
            "rows/s",
            format!(
                "{:.1}x JSON text",
                json_out.as_secs_f64() / typed_out.as_secs_f64()
            ),
        );
        report.add(
            "boundary",
            format!("out of the plugin, JSON text, {n} rows"),
            per_second(json_out),
            "rows/s",
            "reference: guest serialises, host parses",
        );
        report.add(
            "boundary",
            format!("into the plugin, typed, {n} rows"),
            per_second(typed_in),
            "rows/s",
            format!(
                "{:.1}x JSON text",
                json_in.as_secs_f64() / typed_in.as_secs_f64()
            ),
        );
        report.add(
            "boundary",
            format!("into the plugin, JSON text, {n} rows"),
            per_second(json_in),
            "rows/s",
            "reference: host serialises, guest parses",
        );
    }
    Ok(())
}
