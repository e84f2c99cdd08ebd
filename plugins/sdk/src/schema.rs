//! Shorthand for declaring tables and schema fields in `info`.

use crate::{Field, FieldMode, FieldType, TableRef};

/// A schema field. FLOAT64 fields refuse NaN and infinities.
pub fn field(name: &str, field_type: FieldType, mode: FieldMode, description: &str) -> Field {
    Field {
        name: name.to_string(),
        field_type,
        mode,
        allow_non_finite: false,
        description: description.to_string(),
    }
}

/// A table reference from `dataset.table`.
///
/// # Panics
/// When `qualified` has no dot: table names are constants in processor code.
pub fn table(qualified: &str) -> TableRef {
    let (dataset, table) = qualified
        .split_once('.')
        .unwrap_or_else(|| panic!("table `{qualified}` must be `dataset.table`"));
    TableRef {
        dataset: dataset.to_string(),
        table: table.to_string(),
    }
}

/// Checks that `row` fits `schema` as the host will: one value per field,
/// each of the field's type and mode, floats finite unless the field allows
/// otherwise. For a processor's own unit tests; the host checks every row
/// again before any write.
pub fn check_row(schema: &[Field], row: &[crate::Value]) -> Result<(), String> {
    use crate::{Scalar, Value};
    if row.len() != schema.len() {
        return Err(format!("{} values for {} fields", row.len(), schema.len()));
    }
    for (value, field) in row.iter().zip(schema) {
        let fits = |s: &Scalar| match (s, field.field_type) {
            (Scalar::String(_), FieldType::String)
            | (Scalar::Int64(_), FieldType::Int64)
            | (Scalar::Numeric(_), FieldType::Numeric)
            | (Scalar::Boolean(_), FieldType::Bool)
            | (Scalar::Date(_), FieldType::Date)
            | (Scalar::Timestamp(_), FieldType::Timestamp)
            | (Scalar::Json(_), FieldType::Json) => true,
            (Scalar::Float64(v), FieldType::Float64) => v.is_finite() || field.allow_non_finite,
            _ => false,
        };
        let ok = match (value, field.mode) {
            (Value::Null, FieldMode::Nullable) => true,
            (Value::Scalar(s), FieldMode::Nullable | FieldMode::Required) => fits(s),
            (Value::Repeated(items), FieldMode::Repeated) => items.iter().all(fits),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "`{}` ({:?} {:?}) cannot hold {value:?}",
                field.name, field.mode, field.field_type
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn a_row_fits_only_with_the_right_count_types_and_modes() {
        let schema = [
            field("points", FieldType::Int64, FieldMode::Required, ""),
            field("rate", FieldType::Float64, FieldMode::Nullable, ""),
        ];
        assert_eq!(check_row(&schema, &[Value::int64(3), Value::Null]), Ok(()));
        assert!(
            check_row(&schema, &[Value::int64(3)])
                .unwrap_err()
                .contains("1 values for 2 fields")
        );
        assert!(
            check_row(&schema, &[Value::Null, Value::Null])
                .unwrap_err()
                .contains("`points`")
        );
        let nan = check_row(&schema, &[Value::int64(3), Value::float64(f64::NAN)]).unwrap_err();
        assert!(nan.contains("`rate`"), "{nan}");
    }
}
