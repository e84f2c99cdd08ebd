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
