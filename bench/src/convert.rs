//! Moves rows between the guest SDK's types and the host's types, for the
//! measurements that run the same logic natively.

use slate::column_batch as host_batch;
use slate::rows as host;
use slate_sdk as guest;

fn scalar_to_host(s: &guest::Scalar) -> host::Scalar {
    match s {
        guest::Scalar::String(v) => host::Scalar::String(v.clone()),
        guest::Scalar::Int64(v) => host::Scalar::Int64(*v),
        guest::Scalar::Float64(v) => host::Scalar::Float64(*v),
        guest::Scalar::Numeric(v) => host::Scalar::Numeric(v.clone()),
        guest::Scalar::Boolean(v) => host::Scalar::Boolean(*v),
        guest::Scalar::Date(d) => host::Scalar::Date(host::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        }),
        guest::Scalar::Timestamp(v) => host::Scalar::Timestamp(*v),
        guest::Scalar::Json(v) => host::Scalar::Json(v.clone()),
    }
}

fn scalar_to_guest(s: &host::Scalar) -> guest::Scalar {
    match s {
        host::Scalar::String(v) => guest::Scalar::String(v.clone()),
        host::Scalar::Int64(v) => guest::Scalar::Int64(*v),
        host::Scalar::Float64(v) => guest::Scalar::Float64(*v),
        host::Scalar::Numeric(v) => guest::Scalar::Numeric(v.clone()),
        host::Scalar::Boolean(v) => guest::Scalar::Boolean(*v),
        host::Scalar::Date(d) => guest::Scalar::Date(guest::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        }),
        host::Scalar::Timestamp(v) => guest::Scalar::Timestamp(*v),
        host::Scalar::Json(v) => guest::Scalar::Json(v.clone()),
    }
}

/// A guest row as a host row.
pub fn row_to_host(row: &guest::Row) -> host::Row {
    row.iter()
        .map(|v| match v {
            guest::Value::Null => host::Value::Null,
            guest::Value::Scalar(s) => host::Value::Scalar(scalar_to_host(s)),
            guest::Value::Repeated(items) => {
                host::Value::Repeated(items.iter().map(scalar_to_host).collect())
            }
        })
        .collect()
}

/// A host cell as a guest cell.
fn value_to_guest(value: &host::Value) -> guest::Value {
    match value {
        host::Value::Null => guest::Value::Null,
        host::Value::Scalar(s) => guest::Value::Scalar(scalar_to_guest(s)),
        host::Value::Repeated(items) => {
            guest::Value::Repeated(items.iter().map(scalar_to_guest).collect())
        }
    }
}

fn text_to_guest(text: &host_batch::PackedText) -> guest::PackedText {
    guest::PackedText {
        text: text.text.clone(),
        ends: text.ends.clone(),
    }
}

/// A host column batch as a guest column batch: a few copies per column,
/// as the component boundary makes.
fn batch_to_guest(batch: &host_batch::ColumnBatch) -> guest::ColumnBatch {
    use guest::ColumnValues as To;
    use host_batch::ColumnValues as From;
    let columns = batch
        .columns
        .iter()
        .map(|column| guest::Column {
            name: column.name.clone(),
            nulls: column.nulls.clone(),
            values: match &column.values {
                From::String(text) => To::String(text_to_guest(text)),
                From::Numeric(text) => To::Numeric(text_to_guest(text)),
                From::Json(text) => To::Json(text_to_guest(text)),
                From::Int64(values) => To::Int64(values.clone()),
                From::Float64(values) => To::Float64(values.clone()),
                From::Boolean(values) => To::Boolean(values.clone()),
                From::Date(values) => To::Date(values.clone()),
                From::Timestamp(values) => To::Timestamp(values.clone()),
                From::Values(values) => To::Values(values.iter().map(value_to_guest).collect()),
            },
        })
        .collect();
    guest::ColumnBatch {
        row_count: batch.row_count,
        columns,
    }
}

/// A host coded batch as a guest coded batch, copied as the boundary
/// copies it.
pub fn coded_to_guest(read: &slate::text_codes::CodedColumnBatch) -> guest::CodedColumnBatch {
    guest::CodedColumnBatch {
        batch: batch_to_guest(&read.batch),
        coded: read
            .coded
            .iter()
            .map(|column| guest::CodedColumn {
                name: column.name.clone(),
                nulls: column.nulls.clone(),
                dictionary: text_to_guest(&column.dictionary),
                codes: column.codes.clone(),
            })
            .collect(),
    }
}
