//! Properties, checked on generated inputs with a fixed case count: the
//! date parser takes exactly `YYYY-MM-DD` calendar days, validation never
//! panics and names every bad row, rows that fit a schema always validate,
//! and every request the server refuses gets a JSON 4xx, whatever its
//! body, query string or plugin name.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::NaiveDate;
use proptest::prelude::*;
use slate::dates;
use slate::rows::{Date, RowSet, Scalar, Value, wit_date};
use slate::schema::{Column, ColumnMode, ColumnType, TableSchema};
use slate::validate::validate;
use tower::ServiceExt;

use crate::serve::{Served, TOKEN, authorized};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
}

/// Strings that look like dates, and some that are nearly dates.
fn date_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[ +-]?[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,3}[ ]?",
        ".{0,14}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn only_yyyy_mm_dd_calendar_days_parse(text in date_like()) {
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        let real = shaped && NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok();
        match dates::parse(&text) {
            Ok(date) => {
                prop_assert!(real, "`{text}` parsed");
                prop_assert_eq!(date.format("%Y-%m-%d").to_string(), text);
            }
            Err(_) => prop_assert!(!real, "`{text}` refused"),
        }
    }
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop_oneof![
        Just(ColumnType::String),
        Just(ColumnType::Int64),
        Just(ColumnType::Float64),
        Just(ColumnType::Numeric),
        Just(ColumnType::Bool),
        Just(ColumnType::Date),
        Just(ColumnType::Timestamp),
        Just(ColumnType::Json),
    ]
}

fn column_mode() -> impl Strategy<Value = ColumnMode> {
    prop_oneof![
        Just(ColumnMode::Nullable),
        Just(ColumnMode::Required),
        Just(ColumnMode::Repeated),
    ]
}

fn any_scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        ".{0,8}".prop_map(Scalar::String),
        any::<i64>().prop_map(Scalar::Int64),
        any::<f64>().prop_map(Scalar::Float64),
        "[-0-9.e]{0,12}".prop_map(Scalar::Numeric),
        any::<bool>().prop_map(Scalar::Boolean),
        (any::<i32>(), any::<u8>(), any::<u8>())
            .prop_map(|(year, month, day)| Scalar::Date(Date { year, month, day })),
        any::<i64>().prop_map(Scalar::Timestamp),
        ".{0,8}".prop_map(Scalar::Json),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any_scalar().prop_map(Value::Scalar),
        prop::collection::vec(any_scalar(), 0..3).prop_map(Value::Repeated),
    ]
}

/// A schema of 1 to 5 columns plus its REQUIRED DATE partition column `d`.
fn schema() -> impl Strategy<Value = TableSchema> {
    prop::collection::vec((column_type(), column_mode()), 1..5).prop_map(|columns| {
        let mut columns: Vec<Column> = columns
            .into_iter()
            .enumerate()
            .map(|(i, (kind, mode))| Column::new(&format!("c{i}"), kind, mode))
            .collect();
        columns.push(Column::new("d", ColumnType::Date, ColumnMode::Required));
        TableSchema {
            columns,
            partition_column: "d".into(),
            key_columns: vec!["c0".into()],
        }
    })
}

/// A value that fits `column`.
fn fitting(column: &Column) -> BoxedStrategy<Value> {
    let scalar: BoxedStrategy<Scalar> = match column.column_type {
        ColumnType::String => "[a-z ]{0,8}".prop_map(Scalar::String).boxed(),
        ColumnType::Int64 => any::<i64>().prop_map(Scalar::Int64).boxed(),
        ColumnType::Float64 => (-1e12f64..1e12).prop_map(Scalar::Float64).boxed(),
        ColumnType::Numeric => (-1_000_000i64..1_000_000)
            .prop_map(|n| Scalar::Numeric(format!("{n}.25")))
            .boxed(),
        ColumnType::Bool => any::<bool>().prop_map(Scalar::Boolean).boxed(),
        ColumnType::Date => (1i32..9999, 1u8..=12, 1u8..=28)
            .prop_map(|(year, month, day)| Scalar::Date(Date { year, month, day }))
            .boxed(),
        ColumnType::Timestamp => (0i64..4_000_000_000_000_000)
            .prop_map(Scalar::Timestamp)
            .boxed(),
        ColumnType::Json => (0i64..1000)
            .prop_map(|n| Scalar::Json(format!("{{\"n\":{n}}}")))
            .boxed(),
    };
    match column.mode {
        ColumnMode::Required => scalar.prop_map(Value::Scalar).boxed(),
        ColumnMode::Nullable => {
            prop_oneof![Just(Value::Null), scalar.prop_map(Value::Scalar)].boxed()
        }
        ColumnMode::Repeated => prop::collection::vec(scalar, 0..3)
            .prop_map(Value::Repeated)
            .boxed(),
    }
}

/// A schema and 0 to 6 rows that fit it, dated `day()`, no two with the
/// same key.
fn fitting_rows() -> impl Strategy<Value = (TableSchema, RowSet)> {
    schema().prop_flat_map(|schema| {
        let row: Vec<BoxedStrategy<Value>> = schema
            .columns
            .iter()
            .map(|c| {
                if c.name == "d" {
                    Just(Value::Scalar(Scalar::Date(wit_date(day())))).boxed()
                } else {
                    fitting(c)
                }
            })
            .collect();
        let columns: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        let keys: Vec<usize> = schema
            .key_columns
            .iter()
            .filter_map(|k| columns.iter().position(|c| c == k))
            .collect();
        prop::collection::vec(row, 0..6).prop_map(move |generated| {
            let mut rows: Vec<Vec<Value>> = Vec::new();
            for row in generated {
                if !rows
                    .iter()
                    .any(|kept| keys.iter().all(|&k| kept[k] == row[k]))
                {
                    rows.push(row);
                }
            }
            (
                schema.clone(),
                RowSet {
                    columns: columns.clone(),
                    rows,
                },
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn validation_never_panics_and_names_every_bad_row(
        schema in schema(),
        rows in prop::collection::vec(prop::collection::vec(any_value(), 0..7), 0..6),
    ) {
        let columns: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        let count = rows.len();
        let report = validate(&RowSet { columns, rows }, &schema, day());
        prop_assert_eq!(report.rows_checked, count);
        for error in &report.errors {
            if let Some(row) = error.row_index {
                prop_assert!(row < count);
                prop_assert!(report.bad_rows.contains(&row));
                prop_assert!(!error.field.is_empty() && !error.problem.is_empty());
            }
        }
        for row in &report.bad_rows {
            prop_assert!(report.errors.iter().any(|e| e.row_index == Some(*row)));
        }
    }

    #[test]
    fn rows_that_fit_their_schema_always_validate((schema, rows) in fitting_rows()) {
        let report = validate(&rows, &schema, day());
        prop_assert!(report.is_valid(), "{}", report.summary(5));
    }

    #[test]
    fn a_copy_of_a_fitting_row_is_refused_as_a_repeat_of_its_key(
        (schema, rows) in fitting_rows(),
        pick in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!rows.rows.is_empty());
        let copied = pick.index(rows.rows.len());
        let mut with_copy = rows.clone();
        with_copy.rows.push(rows.rows[copied].clone());
        let report = validate(&with_copy, &schema, day());
        prop_assert_eq!(
            report.bad_rows.into_iter().collect::<Vec<_>>(),
            vec![rows.rows.len()]
        );
        prop_assert_eq!(report.errors.len(), 1);
        prop_assert_eq!(&report.errors[0].problem, &format!("row {copied} has the same key"));
    }
}

/// One served host for every generated request, with its runtime.
fn served() -> &'static (Served, tokio::runtime::Runtime) {
    static SERVED: OnceLock<(Served, tokio::runtime::Runtime)> = OnceLock::new();
    SERVED.get_or_init(|| {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        (Served::new(), tokio)
    })
}

/// Sends `request`; answers the status and whether the body is JSON with
/// an `error` (for a non-2xx) or JSON at all (for a 2xx).
fn answer(request: Request<Body>) -> (u16, bool) {
    let (served, tokio) = served();
    tokio.block_on(async {
        let response = served.router().oneshot(request).await.unwrap();
        let status = response.status();
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        let well_formed = json
            && body.is_some_and(|b| {
                status.is_success() || b["error"].as_str().is_some_and(|e| !e.is_empty())
            });
        (status.as_u16(), well_formed)
    })
}

fn post(path: &str, body: Vec<u8>) -> Request<Body> {
    authorized(Request::post(path), "application/json", body)
}

/// JSON bodies with fields near the real ones, and arbitrary bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let dated = (
        prop::sample::select(vec!["analysis_date", "start_date", "end_date", "date"]),
        date_like().prop_filter("not a date the pipeline would run", |d| {
            dates::parse(d).is_err()
        }),
        prop::collection::vec("[A-Za-z]{0,12}", 0..3),
    )
        .prop_map(|(field, date, processors)| {
            serde_json::json!({ field: date, "end_date": "2026-01-12", "processors": processors })
                .to_string()
                .into_bytes()
        });
    prop_oneof![dated, prop::collection::vec(any::<u8>(), 0..64)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_refused_request_body_gets_a_json_4xx(
        path in prop::sample::select(vec!["/process-date", "/backfill"]),
        body in body(),
    ) {
        let (status, well_formed) = answer(post(path, body));
        prop_assert!((400..500).contains(&status), "{status}");
        prop_assert!(well_formed);
    }

    #[test]
    fn every_runs_query_gets_json(query in "[a-z_=&%0-9.-]{0,24}") {
        let request = Request::get(format!("/runs?{query}")).body(Body::empty());
        prop_assume!(request.is_ok(), "not a URI at all");
        let request = request.unwrap();
        let (status, well_formed) = answer(request);
        prop_assert!(status == 200 || (400..500).contains(&status), "{status}");
        prop_assert!(well_formed);
    }

    #[test]
    fn every_deploy_of_a_non_component_gets_a_json_4xx(
        name in "[A-Za-z0-9_%.-]{1,16}",
        bytes in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let request = Request::put(format!("/plugins/{name}"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/wasm")
            .body(Body::from(bytes));
        prop_assume!(request.is_ok(), "not a URI at all");
        let request = request.unwrap();
        let (status, well_formed) = answer(request);
        prop_assert!((400..500).contains(&status), "{status}");
        prop_assert!(well_formed);
    }
}
