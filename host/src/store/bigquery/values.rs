//! How Slate's schemas and values are written to BigQuery and read back.
//!
//! - Schemas become `TableFieldSchema`s; a table read back names its
//!   partition column in `timePartitioning.field`. Legacy type names
//!   (INTEGER, FLOAT, BOOLEAN) read as their standard names.
//! - Rows load as newline-delimited JSON: DATE as `YYYY-MM-DD`, TIMESTAMP
//!   as RFC 3339 text, NaN and infinities as `"NaN"`, `"Infinity"` and
//!   `"-Infinity"`, NUMERIC as text, JSON as the document itself.
//! - Query results come back as text cells (`{"v": "31"}`), REPEATED as a
//!   list of cells. TIMESTAMP is integer microseconds (with
//!   `useInt64Timestamp`, and always on the emulator) or float seconds.

use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema as BqSchema;
use serde_json::Value as Json;

use crate::rows::{Row, Scalar, Value, scalar_json, timestamp_micros, wit_date};
use crate::schema::{Column, ColumnMode, ColumnType, TableSchema};

/// What ends the description of a FLOAT64 column that admits NaN and
/// infinities. BigQuery has no such attribute, so the description keeps
/// it (and says it to the table's readers); without it, the live table
/// read back lost the flag, and every run after the one that created the
/// table was refused as changing the column's type.
const NON_FINITE_NOTE: &str = "[NaN and infinities allowed]";

/// The BigQuery fields of a schema.
pub fn schema_fields(columns: &[Column]) -> Vec<TableFieldSchema> {
    columns
        .iter()
        .map(|column| {
            let mut field = TableFieldSchema::new(&column.name, field_type(column.column_type));
            field.mode = Some(column.mode.to_string());
            let description = match column.allow_non_finite {
                true => format!("{} {NON_FINITE_NOTE}", column.description),
                false => column.description.clone(),
            };
            if !description.trim().is_empty() {
                field.description = Some(description.trim_start().to_string());
            }
            field
        })
        .collect()
}

/// A BigQuery schema from Slate's columns.
pub fn bq_schema(columns: &[Column]) -> BqSchema {
    BqSchema::new(schema_fields(columns))
}

fn field_type(column_type: ColumnType) -> FieldType {
    match column_type {
        ColumnType::String => FieldType::String,
        ColumnType::Int64 => FieldType::Int64,
        ColumnType::Float64 => FieldType::Float64,
        ColumnType::Numeric => FieldType::Numeric,
        ColumnType::Bool => FieldType::Bool,
        ColumnType::Date => FieldType::Date,
        ColumnType::Timestamp => FieldType::Timestamp,
        ColumnType::Json => FieldType::Json,
    }
}

/// A live table's column that Slate cannot read: of a type or a mode it
/// does not write.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UnsupportedColumn {
    /// A type such as BYTES or RECORD.
    #[error("column `{column}` has type {field_type:?}, which Slate does not write")]
    Type {
        /// The column's name.
        column: String,
        /// Its BigQuery type.
        field_type: FieldType,
    },
    /// A mode other than NULLABLE, REQUIRED and REPEATED.
    #[error("column `{column}` has mode {mode}")]
    Mode {
        /// The column's name.
        column: String,
        /// Its mode, as BigQuery gave it.
        mode: String,
    },
}

/// A query result cell that does not read back as its column's type: the
/// column, what it takes and what the cell holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableQueryCell {
    /// An item of a REPEATED column's list is not a text cell (`{"v": "..."}`).
    #[error("expected a cell of type {expected}, got {item:?}")]
    ListItem {
        /// The column's name.
        column: String,
        /// The column's type.
        expected: ColumnType,
        /// The item's `v`, if it has one.
        item: Option<Json>,
    },
    /// The cell is not text (or a list, for a REPEATED column).
    #[error("expected a {mode} {expected} cell, got {cell}")]
    Shape {
        /// The column's name.
        column: String,
        /// The column's mode.
        mode: ColumnMode,
        /// The column's type.
        expected: ColumnType,
        /// The cell.
        cell: Json,
    },
    /// The cell's text is not a value of the column's type.
    #[error("expected {expected}, got {text:?}")]
    Text {
        /// The column's name.
        column: String,
        /// The column's type.
        expected: ColumnType,
        /// The text.
        text: String,
    },
}

impl UnreadableQueryCell {
    /// The name of the column the cell is in.
    pub fn column(&self) -> &str {
        match self {
            UnreadableQueryCell::ListItem { column, .. }
            | UnreadableQueryCell::Shape { column, .. }
            | UnreadableQueryCell::Text { column, .. } => column,
        }
    }
}

/// The schema of a live table. A column of a type Slate does not write
/// (BYTES, RECORD, ...) is an error naming it.
pub fn schema_of_table(table: &Table) -> Result<TableSchema, UnsupportedColumn> {
    let fields = table.schema.fields.as_deref().unwrap_or_default();
    let mut columns = Vec::with_capacity(fields.len());
    for field in fields {
        let column_type = match field.r#type {
            FieldType::String => ColumnType::String,
            FieldType::Int64 | FieldType::Integer => ColumnType::Int64,
            FieldType::Float64 | FieldType::Float => ColumnType::Float64,
            FieldType::Numeric => ColumnType::Numeric,
            FieldType::Bool | FieldType::Boolean => ColumnType::Bool,
            FieldType::Date => ColumnType::Date,
            FieldType::Timestamp => ColumnType::Timestamp,
            FieldType::Json => ColumnType::Json,
            ref other => {
                return Err(UnsupportedColumn::Type {
                    column: field.name.clone(),
                    field_type: other.clone(),
                });
            }
        };
        let mode = match field.mode.as_deref() {
            None | Some("NULLABLE") => ColumnMode::Nullable,
            Some("REQUIRED") => ColumnMode::Required,
            Some("REPEATED") => ColumnMode::Repeated,
            Some(other) => {
                return Err(UnsupportedColumn::Mode {
                    column: field.name.clone(),
                    mode: other.to_string(),
                });
            }
        };
        let mut column = Column::new(&field.name, column_type, mode);
        let description = field.description.as_deref().unwrap_or_default();
        match description.strip_suffix(NON_FINITE_NOTE) {
            Some(rest) if column_type == ColumnType::Float64 => {
                column.allow_non_finite = true;
                column.description = rest.trim_end().to_string();
            }
            _ => column.description = description.to_string(),
        }
        columns.push(column);
    }
    let partition_column = table
        .time_partitioning
        .as_ref()
        .and_then(|p| p.field.clone())
        .unwrap_or_default();
    Ok(TableSchema {
        columns,
        partition_column,
        key_columns: Vec::new(),
    })
}

/// A scalar as BigQuery's JSON load format takes it.
fn scalar_load_json(scalar: &Scalar) -> Json {
    match scalar {
        Scalar::Float64(v) if v.is_nan() => Json::String("NaN".into()),
        Scalar::Float64(v) if v.is_infinite() => {
            Json::String(if *v > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        other => scalar_json(other),
    }
}

/// Appends one row as a line of newline-delimited JSON.
pub fn push_ndjson_row(columns: &[String], row: &Row, out: &mut Vec<u8>) {
    let object: serde_json::Map<String, Json> = columns
        .iter()
        .zip(row)
        .map(|(name, value)| {
            let json = match value {
                Value::Null => Json::Null,
                Value::Scalar(s) => scalar_load_json(s),
                Value::Repeated(items) => items.iter().map(scalar_load_json).collect(),
            };
            (name.clone(), json)
        })
        .collect();
    serde_json::to_writer(&mut *out, &object).expect("a JSON map always serialises");
    out.push(b'\n');
}

/// Why validation refuses `value` of `column` of every row the host
/// writes, when it does: a processor's read refuses it too, as the
/// embedded store's does, since another tool wrote it into the table.
pub fn refused_on_read(column: &Column, value: &Value) -> Option<&'static str> {
    let refused = |scalar: &Scalar| match scalar {
        Scalar::Float64(v) if !v.is_finite() && !column.allow_non_finite => {
            Some("the column does not accept NaN or infinity")
        }
        Scalar::String(text) if text.contains('\0') => {
            Some("a STRING cannot hold a NUL character (\\0)")
        }
        _ => None,
    };
    match value {
        Value::Scalar(scalar) => refused(scalar),
        Value::Repeated(items) => items.iter().find_map(refused),
        Value::Null => None,
    }
}

/// Reads a query result cell (`v`) as a value of `column`.
pub fn value_from_cell(column: &Column, cell: Option<&Json>) -> Result<Value, UnreadableQueryCell> {
    match (cell, column.mode) {
        (None | Some(Json::Null), ColumnMode::Repeated) => Ok(Value::Repeated(Vec::new())),
        (None | Some(Json::Null), _) => Ok(Value::Null),
        (Some(Json::Array(items)), ColumnMode::Repeated) => items
            .iter()
            .map(|item| match item.get("v") {
                Some(Json::String(text)) => scalar_from_text(column, text),
                other => Err(UnreadableQueryCell::ListItem {
                    column: column.name.clone(),
                    expected: column.column_type,
                    item: other.cloned(),
                }),
            })
            .collect::<Result<_, _>>()
            .map(Value::Repeated),
        (Some(Json::String(text)), ColumnMode::Nullable | ColumnMode::Required) => {
            scalar_from_text(column, text).map(Value::Scalar)
        }
        (Some(other), _) => Err(UnreadableQueryCell::Shape {
            column: column.name.clone(),
            mode: column.mode,
            expected: column.column_type,
            cell: other.clone(),
        }),
    }
}

/// Parses BigQuery's text form of a scalar of `column`.
fn scalar_from_text(column: &Column, text: &str) -> Result<Scalar, UnreadableQueryCell> {
    let column_type = column.column_type;
    let bad = || UnreadableQueryCell::Text {
        column: column.name.clone(),
        expected: column_type,
        text: text.to_string(),
    };
    Ok(match column_type {
        ColumnType::String => Scalar::String(text.to_string()),
        ColumnType::Int64 => Scalar::Int64(text.parse().map_err(|_| bad())?),
        ColumnType::Float64 => Scalar::Float64(match text {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| bad())?,
        }),
        ColumnType::Numeric => Scalar::Numeric(canonical_numeric(text)),
        ColumnType::Bool => match text {
            "true" => Scalar::Boolean(true),
            "false" => Scalar::Boolean(false),
            _ => return Err(bad()),
        },
        ColumnType::Date => Scalar::Date(wit_date(
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?,
        )),
        ColumnType::Timestamp => Scalar::Timestamp(timestamp_cell(text).ok_or_else(bad)?),
        ColumnType::Json => Scalar::Json(text.to_string()),
    })
}

/// A TIMESTAMP cell: integer microseconds, seconds in decimal or float
/// notation (`1.7672256E9`, as BigQuery answers a query), or RFC 3339
/// text. Seconds are read as decimal digits, not through a float: a float
/// holds a date of the year 9999 only to about 30 microseconds.
fn timestamp_cell(text: &str) -> Option<i64> {
    if let Ok(micros) = text.parse::<i64>() {
        return Some(micros);
    }
    decimal_seconds_as_micros(&plain_decimal(text)).or_else(|| timestamp_micros(text))
}

/// `[-]SECONDS[.FRACTION]` as microseconds, the fraction's digits past
/// the sixth rounded half away from zero; `None` for other text.
fn decimal_seconds_as_micros(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let micros_part: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(6)
        .collect();
    let round_up = fraction
        .as_bytes()
        .get(6)
        .is_some_and(|&digit| digit >= b'5');
    let magnitude = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros_part.parse::<i64>().ok()?)?
        .checked_add(i64::from(round_up))?;
    Some(if negative { -magnitude } else { magnitude })
}

/// NUMERIC text without the trailing zeros BigQuery pads to scale 9
/// (`24.500000000` is `24.5`), so values round-trip as written.
fn canonical_numeric(text: &str) -> String {
    let text = &plain_decimal(text);
    if !text.contains('.') {
        return text.to_string();
    }
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed.is_empty() || trimmed == "-" {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `text` without an exponent: BigQuery (and its emulator) may answer a
/// NUMERIC as `1E-9` or `1.00E-7`, which is no decimal to validation or to
/// a processor. Text without one, or that is no number, is left as it is.
fn plain_decimal(text: &str) -> String {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return text.to_string();
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return text.to_string();
    };
    let (sign, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || exponent.abs() > 100 {
        return text.to_string();
    }
    // Where the point falls among the digits once the exponent is applied.
    let point = whole.len() as i32 + exponent;
    let (whole, fraction) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        (whole.to_string(), fraction.to_string())
    };
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    match fraction.is_empty() {
        true => format!("{sign}{whole}"),
        false => format!("{sign}{whole}.{fraction}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float would give the year 9999's microseconds only to about 30.
    #[test]
    fn a_timestamp_answered_as_float_seconds_keeps_every_microsecond() {
        for (text, micros) in [
            ("2.53402300799999999E11", 253_402_300_799_999_999),
            ("1.767225600123456E9", 1_767_225_600_123_456),
            ("-1.5E-6", -2),
            ("1767225600.5", 1_767_225_600_500_000),
            ("1.7672256E9", 1_767_225_600_000_000),
            ("1767225600", 1_767_225_600),
        ] {
            assert_eq!(timestamp_cell(text), Some(micros), "{text}");
        }
        assert_eq!(
            timestamp_cell("2026-01-01T00:00:00.000001Z"),
            Some(1_767_225_600_000_001)
        );
        assert_eq!(timestamp_cell("soon"), None);
    }

    #[test]
    fn a_numeric_answered_with_an_exponent_reads_as_plain_decimal_text() {
        assert_eq!(canonical_numeric("1E-9"), "0.000000001");
        assert_eq!(canonical_numeric("-1E-9"), "-0.000000001");
        assert_eq!(canonical_numeric("1.00E-7"), "0.0000001");
        assert_eq!(canonical_numeric("1.5E+3"), "1500");
        assert_eq!(canonical_numeric("1.25E1"), "12.5");
        assert_eq!(canonical_numeric("12.5"), "12.5");
        assert_eq!(canonical_numeric("12.500"), "12.5");
        assert_eq!(canonical_numeric("42"), "42");
    }

    fn column(column_type: ColumnType, mode: ColumnMode) -> Column {
        Column::new("c", column_type, mode)
    }

    fn ndjson(columns: &[&str], row: Row) -> Json {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut out = Vec::new();
        push_ndjson_row(&columns, &row, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn a_value_validation_refuses_is_refused_on_read() {
        let float = column(ColumnType::Float64, ColumnMode::Nullable);
        let nan = Value::Scalar(Scalar::Float64(f64::NAN));
        assert_eq!(
            refused_on_read(&float, &nan),
            Some("the column does not accept NaN or infinity")
        );
        let lenient = Column {
            allow_non_finite: true,
            ..float.clone()
        };
        assert_eq!(refused_on_read(&lenient, &nan), None);
        let tags = column(ColumnType::String, ColumnMode::Repeated);
        let nul = Value::Repeated(vec![
            Scalar::String("a".into()),
            Scalar::String("b\0".into()),
        ]);
        assert!(refused_on_read(&tags, &nul).is_some_and(|why| why.contains("NUL")));
        let fine = Value::Scalar(Scalar::Float64(1.5));
        assert_eq!(refused_on_read(&float, &fine), None);
    }

    #[test]
    fn rows_load_in_bigquerys_json_formats() {
        let line = ndjson(
            &["d", "t", "nan", "inf", "n", "j", "tags", "none"],
            vec![
                Value::Scalar(Scalar::Date(wit_date(
                    chrono::NaiveDate::from_ymd_opt(2026, 1, 11).unwrap(),
                ))),
                Value::Scalar(Scalar::Timestamp(1_767_225_600_000_001)),
                Value::Scalar(Scalar::Float64(f64::NAN)),
                Value::Scalar(Scalar::Float64(f64::NEG_INFINITY)),
                Value::Scalar(Scalar::Numeric("24.5".into())),
                Value::Scalar(Scalar::Json("{\"src\":\"bdl\"}".into())),
                Value::Repeated(vec![Scalar::String("a".into())]),
                Value::Null,
            ],
        );
        assert_eq!(
            line,
            serde_json::json!({
                "d": "2026-01-11",
                "t": "2026-01-01T00:00:00.000001Z",
                "nan": "NaN",
                "inf": "-Infinity",
                "n": "24.5",
                "j": {"src": "bdl"},
                "tags": ["a"],
                "none": null,
            })
        );
    }

    #[test]
    fn query_cells_read_back_by_column_type() {
        use ColumnMode::*;
        let read = |t, m, cell: Json| value_from_cell(&column(t, m), Some(&cell));
        assert_eq!(
            read(ColumnType::Int64, Required, "31".into()),
            Ok(Value::Scalar(Scalar::Int64(31)))
        );
        assert_eq!(
            read(ColumnType::Float64, Nullable, "-Infinity".into()),
            Ok(Value::Scalar(Scalar::Float64(f64::NEG_INFINITY)))
        );
        assert_eq!(
            read(ColumnType::Numeric, Nullable, "24.500000000".into()),
            Ok(Value::Scalar(Scalar::Numeric("24.5".into())))
        );
        assert_eq!(
            read(ColumnType::Timestamp, Nullable, "1768086900123456".into()),
            Ok(Value::Scalar(Scalar::Timestamp(1_768_086_900_123_456)))
        );
        assert_eq!(
            read(ColumnType::Timestamp, Nullable, "1.7672256E9".into()),
            Ok(Value::Scalar(Scalar::Timestamp(1_767_225_600_000_000)))
        );
        assert_eq!(
            read(
                ColumnType::String,
                Repeated,
                serde_json::json!([{"v": "a"}, {"v": "b"}])
            ),
            Ok(Value::Repeated(vec![
                Scalar::String("a".into()),
                Scalar::String("b".into())
            ]))
        );
        assert_eq!(
            read(ColumnType::String, Repeated, Json::Null),
            Ok(Value::Repeated(vec![]))
        );
        assert_eq!(
            read(ColumnType::Bool, Nullable, Json::Null),
            Ok(Value::Null)
        );
    }

    #[test]
    fn an_unreadable_cell_names_the_column_what_it_takes_and_what_it_holds() {
        use ColumnMode::*;
        let read = |t, m, cell: Json| value_from_cell(&column(t, m), Some(&cell));
        let error = read(ColumnType::Int64, Nullable, "3.5".into()).unwrap_err();
        assert_eq!(
            error,
            UnreadableQueryCell::Text {
                column: "c".into(),
                expected: ColumnType::Int64,
                text: "3.5".into(),
            }
        );
        assert_eq!(error.to_string(), "expected INT64, got \"3.5\"");
        let error = read(ColumnType::Int64, Required, serde_json::json!(3)).unwrap_err();
        assert_eq!(error.to_string(), "expected a REQUIRED INT64 cell, got 3");
        let error = read(ColumnType::Int64, Repeated, serde_json::json!([{"x": 1}])).unwrap_err();
        assert_eq!(
            error,
            UnreadableQueryCell::ListItem {
                column: "c".into(),
                expected: ColumnType::Int64,
                item: None,
            }
        );
        assert_eq!(error.to_string(), "expected a cell of type INT64, got None");
    }

    #[test]
    fn a_column_of_a_type_slate_does_not_write_is_named() {
        let columns = vec![Column::new("d", ColumnType::Date, ColumnMode::Required)];
        let mut table = Table::new("p", "d", "t", bq_schema(&columns));
        let fields = table.schema.fields.as_mut().unwrap();
        fields.push(TableFieldSchema::new("blob", FieldType::Bytes));
        let error = schema_of_table(&table).unwrap_err();
        assert!(
            matches!(
                &error,
                UnsupportedColumn::Type { column, field_type: FieldType::Bytes } if column == "blob"
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "column `blob` has type Bytes, which Slate does not write"
        );
        let fields = table.schema.fields.as_mut().unwrap();
        fields.pop();
        fields[0].mode = Some("SOMETIMES".into());
        assert_eq!(
            schema_of_table(&table).unwrap_err().to_string(),
            "column `d` has mode SOMETIMES"
        );
    }

    #[test]
    fn a_schema_survives_the_round_trip_through_bigquery_fields() {
        let columns = vec![
            Column::new("player", ColumnType::String, ColumnMode::Required),
            Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            Column::new("tags", ColumnType::String, ColumnMode::Repeated),
            Column::new("line", ColumnType::Numeric, ColumnMode::Nullable),
            Column {
                allow_non_finite: true,
                ..Column::new("ratio", ColumnType::Float64, ColumnMode::Nullable)
            },
            Column {
                allow_non_finite: true,
                description: "shots per minute".into(),
                ..Column::new("rate", ColumnType::Float64, ColumnMode::Nullable)
            },
        ];
        let mut table = Table::new("p", "d", "t", bq_schema(&columns));
        table.time_partitioning = Some(
            gcp_bigquery_client::model::time_partitioning::TimePartitioning::per_day()
                .field("game_date"),
        );
        let schema = schema_of_table(&table).unwrap();
        assert_eq!(schema.columns, columns);
        assert_eq!(schema.partition_column, "game_date");
    }
}
