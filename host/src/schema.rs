//! Tables and their schemas, in BigQuery terms, independent of any backend.
//!
//! A [`TableSchema`] serialises to the BigQuery JSON schema format (a list of
//! `{name, type, mode, description}`), so the same file describes a table to
//! Slate, to SQLite and to BigQuery.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bindings::{Field, FieldMode, FieldType, TableRef};

/// The dataset the host keeps shadow versions' tables in
/// ([`crate::shadow`]): no processor declares a table of it.
pub const SHADOW_DATASET: &str = "slate_shadow";

/// A warehouse table, `dataset.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableName {
    /// The dataset, e.g. `nba_analytics`.
    pub dataset: String,
    /// The table, e.g. `player_game_summary`.
    pub table: String,
}

impl TableName {
    /// A table name from its two parts.
    pub fn new(dataset: &str, table: &str) -> Self {
        TableName {
            dataset: dataset.to_string(),
            table: table.to_string(),
        }
    }

    /// Parses `dataset.table`; both parts must be lower-case identifiers.
    /// Lower case only, because the embedded store (SQLite) takes `A.B`
    /// and `a.b` for the same table: two names that differ in case alone
    /// would let one processor write another's table.
    pub fn parse(qualified: &str) -> Option<Self> {
        let (dataset, table) = qualified.split_once('.')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        (ok(dataset) && ok(table)).then(|| TableName::new(dataset, table))
    }

    /// Whether either part has an upper-case letter.
    pub fn has_upper_case(&self) -> bool {
        [&self.dataset, &self.table]
            .iter()
            .any(|part| part.chars().any(|c| c.is_ascii_uppercase()))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.dataset, self.table)
    }
}

impl From<&TableRef> for TableName {
    fn from(table: &TableRef) -> Self {
        TableName {
            dataset: table.dataset.clone(),
            table: table.table.clone(),
        }
    }
}

/// A column type, in BigQuery terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// A signed 64-bit integer.
    Int64,
    /// A 64-bit float.
    Float64,
    /// An exact decimal: precision 38, scale 9.
    Numeric,
    /// True or false.
    Bool,
    /// A calendar date.
    Date,
    /// An instant with microsecond precision.
    Timestamp,
    /// A JSON document.
    Json,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ColumnType::String => "STRING",
            ColumnType::Int64 => "INT64",
            ColumnType::Float64 => "FLOAT64",
            ColumnType::Numeric => "NUMERIC",
            ColumnType::Bool => "BOOL",
            ColumnType::Date => "DATE",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Json => "JSON",
        };
        f.write_str(name)
    }
}

/// How many values a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ColumnMode {
    /// Zero or one value.
    Nullable,
    /// Exactly one value.
    Required,
    /// A list of values, possibly empty.
    Repeated,
}

impl fmt::Display for ColumnMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnMode::Nullable => "NULLABLE",
            ColumnMode::Required => "REQUIRED",
            ColumnMode::Repeated => "REPEATED",
        })
    }
}

/// One column of a table schema, as in a BigQuery JSON schema file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The column type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Nullable, required or repeated.
    pub mode: ColumnMode,
    /// For FLOAT64: whether NaN and infinities are acceptable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_non_finite: bool,
    /// What the column means.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Column {
    /// A column with no description that refuses non-finite floats.
    pub fn new(name: &str, column_type: ColumnType, mode: ColumnMode) -> Self {
        Column {
            name: name.to_string(),
            column_type,
            mode,
            allow_non_finite: false,
            description: String::new(),
        }
    }
}

impl From<&Field> for Column {
    fn from(field: &Field) -> Self {
        Column {
            name: field.name.clone(),
            column_type: match field.field_type {
                FieldType::String => ColumnType::String,
                FieldType::Int64 => ColumnType::Int64,
                FieldType::Float64 => ColumnType::Float64,
                FieldType::Numeric => ColumnType::Numeric,
                FieldType::Bool => ColumnType::Bool,
                FieldType::Date => ColumnType::Date,
                FieldType::Timestamp => ColumnType::Timestamp,
                FieldType::Json => ColumnType::Json,
            },
            mode: match field.mode {
                FieldMode::Nullable => ColumnMode::Nullable,
                FieldMode::Required => ColumnMode::Required,
                FieldMode::Repeated => ColumnMode::Repeated,
            },
            allow_non_finite: field.allow_non_finite,
            description: field.description.clone(),
        }
    }
}

/// The most columns a table may have: PostgreSQL's bound (SQLite's is
/// 2,000, BigQuery's 10,000).
pub const MAX_COLUMNS: usize = 1_600;

/// The most key columns a table may have: PostgreSQL's unique index takes
/// 32 columns, the partition column one of them.
pub const MAX_KEY_COLUMNS: usize = 31;

/// A table's columns, its partition date column and its key columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The DATE column a date's rows are replaced by.
    pub partition_column: String,
    /// The columns that identify a row, named in validation errors.
    #[serde(default)]
    pub key_columns: Vec<String>,
}

impl TableSchema {
    /// The columns' names, in schema order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The position of a column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Checks that the schema is usable: at most [`MAX_COLUMNS`] columns
    /// and [`MAX_KEY_COLUMNS`] distinct key columns, unique identifier
    /// names, and a
    /// REQUIRED or NULLABLE DATE partition column. Returns every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.columns.is_empty() {
            problems.push("the schema has no columns".to_string());
        }
        // Past these, a store cannot keep the table, and checking every
        // row's key would cost the host without bound.
        if self.columns.len() > MAX_COLUMNS {
            problems.push(format!(
                "the schema has {} columns: a table keeps at most {MAX_COLUMNS} \
                 (PostgreSQL's bound)",
                self.columns.len()
            ));
            return problems;
        }
        if self.key_columns.len() > MAX_KEY_COLUMNS {
            problems.push(format!(
                "{} key columns: a key has at most {MAX_KEY_COLUMNS} (with the partition \
                 column, PostgreSQL's bound on a unique index)",
                self.key_columns.len()
            ));
            return problems;
        }
        // SQLite and BigQuery both take column names without regard to
        // case: the first column of each name, by its lower case.
        let mut seen: std::collections::HashMap<String, &str> =
            std::collections::HashMap::with_capacity(self.columns.len());
        for column in &self.columns {
            let valid = !column.name.is_empty()
                && column
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !column.name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                problems.push(format!(
                    "column `{}` is not a valid column name",
                    column.name
                ));
            }
            match seen.get(&column.name.to_ascii_lowercase()) {
                Some(&first) if first == column.name => {
                    problems.push(format!("column `{}` appears twice", column.name))
                }
                Some(&first) => problems.push(format!(
                    "columns `{first}` and `{}` differ only in case, which makes them one column",
                    column.name
                )),
                None => {
                    seen.insert(column.name.to_ascii_lowercase(), &column.name);
                }
            }
        }
        match self
            .columns
            .iter()
            .find(|c| c.name == self.partition_column)
        {
            None => problems.push(format!(
                "partition column `{}` is not in the schema",
                self.partition_column
            )),
            // A NULL partition date would sit outside every date a rerun
            // replaces, and pile up forever.
            Some(c) if c.column_type != ColumnType::Date || c.mode != ColumnMode::Required => {
                problems.push(format!(
                    "partition column `{}` must be REQUIRED DATE, not {} {}",
                    c.name, c.mode, c.column_type
                ))
            }
            Some(_) => {}
        }
        for (i, key) in self.key_columns.iter().enumerate() {
            if self.index_of(key).is_none() {
                problems.push(format!("key column `{key}` is not in the schema"));
            } else if self.key_columns[..i].contains(key) {
                problems.push(format!("key column `{key}` appears twice"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(partition: &str) -> TableSchema {
        TableSchema {
            columns: vec![
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            ],
            partition_column: partition.to_string(),
            key_columns: vec!["player".to_string()],
        }
    }

    #[test]
    fn schema_serialises_as_bigquery_json() {
        let json = serde_json::to_value(&schema("game_date").columns).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({"name": "player", "type": "STRING", "mode": "REQUIRED"})
        );
    }

    /// A declaration a store could not keep, and whose rows' keys would
    /// cost the host without bound to check, is refused: 300,000 copies of
    /// one key column took 77 s of host time per run, and 60,000 columns
    /// 32 s for every command that loaded the processor.
    #[test]
    fn columns_and_key_columns_are_bounded_and_a_key_column_is_named_once() {
        let mut wide = schema("game_date");
        wide.columns.extend(
            (0..MAX_COLUMNS)
                .map(|i| Column::new(&format!("c{i}"), ColumnType::Int64, ColumnMode::Nullable)),
        );
        assert_eq!(
            wide.problems(),
            ["the schema has 1602 columns: a table keeps at most 1600 (PostgreSQL's bound)"]
        );
        let mut repeated = schema("game_date");
        repeated.key_columns = vec!["player".into(); 300_000];
        assert_eq!(repeated.problems().len(), 1);
        assert!(repeated.problems()[0].starts_with("300000 key columns: a key has at most 31"));
        repeated.key_columns = vec!["player".into(), "player".into()];
        assert_eq!(repeated.problems(), ["key column `player` appears twice"]);
        let mut cased = schema("game_date");
        cased.columns.push(Column::new(
            "Player",
            ColumnType::String,
            ColumnMode::Nullable,
        ));
        assert_eq!(
            cased.problems(),
            ["columns `player` and `Player` differ only in case, which makes them one column"]
        );
    }

    #[test]
    fn partition_column_must_be_a_date_in_the_schema() {
        assert!(schema("game_date").problems().is_empty());
        assert_eq!(
            schema("nope").problems(),
            ["partition column `nope` is not in the schema"]
        );
        assert_eq!(
            schema("player").problems(),
            ["partition column `player` must be REQUIRED DATE, not REQUIRED STRING"]
        );
    }

    #[test]
    fn column_names_must_differ_by_more_than_case() {
        let mut twice = schema("game_date");
        twice.columns.push(twice.columns[0].clone());
        let mut shouting = schema("game_date");
        let mut upper = shouting.columns[0].clone();
        upper.name = upper.name.to_ascii_uppercase();
        shouting.columns.push(upper);
        assert_eq!(
            twice.problems(),
            [format!("column `{}` appears twice", twice.columns[0].name)]
        );
        assert_eq!(
            shouting.problems(),
            [format!(
                "columns `{}` and `{}` differ only in case, which makes them one column",
                shouting.columns[0].name,
                shouting.columns[0].name.to_ascii_uppercase()
            )]
        );
    }

    #[test]
    fn a_nullable_partition_column_is_refused() {
        let mut nullable = schema("game_date");
        nullable.columns[1].mode = ColumnMode::Nullable;
        assert_eq!(
            nullable.problems(),
            ["partition column `game_date` must be REQUIRED DATE, not NULLABLE DATE"]
        );
    }

    #[test]
    fn table_names_are_two_identifiers() {
        assert_eq!(
            TableName::parse("nba_raw.schedule"),
            Some(TableName::new("nba_raw", "schedule"))
        );
        assert_eq!(TableName::parse("nba_raw"), None);
        assert_eq!(TableName::parse("a.b; drop"), None);
        assert_eq!(TableName::parse("nba_raw.Schedule"), None);
        assert!(TableName::new("NBA_raw", "schedule").has_upper_case());
        assert!(!TableName::new("nba_raw", "schedule_2").has_upper_case());
    }
}
