//! A processor's declaration as constants, from which `info` is built.
//!
//! Every processor answers `info` with the same record; what differs is
//! data. A processor writes that data once, as a `const` [`Declaration`],
//! and answers `info` with [`Declaration::info`]. Its output schema is a
//! BigQuery JSON schema file beside its code (`schema.json`, the format
//! `bq mk --schema` reads), included with `include_str!`. The output
//! columns of [`Declaration::output`] and the schema in `info` then come
//! from that one file, and [`Declaration::check_output`] lets a unit test
//! check its rows against it, as the host will.

use crate::{
    BadRowPolicy, Field, FieldMode, FieldType, GapPolicy, Lookback, MonthDay, Phase, ProcessorInfo,
    Row, RowSet, RowSetBuilder, SeasonReads, UpstreamPolicy, Value, check_row, table,
};

/// The upstreams a processor reads over the season to date, as
/// constants: every scheduled game date from the latest `start` before the
/// analysis date.
#[derive(Debug, Clone, Copy)]
pub struct SeasonToDate {
    /// The day the season starts each year.
    pub start: MonthDay,
    /// The upstream processors read over the season, by name.
    pub upstreams: &'static [&'static str],
}

/// Everything `info` says about a processor, as constants.
///
/// Start from [`Declaration::new`], which blocks on a failed upstream or a
/// gap, fails the run on a bad row and looks back at nothing, and override
/// what differs:
///
/// ```text
/// pub const DECLARATION: Declaration = Declaration {
///     upstream: &["PlayerGameSummaryProcessor"],
///     lookback: Lookback::Games(10),
///     ..Declaration::new("PlayerDailyCacheProcessor", Phase::Precompute, env!("CARGO_PKG_VERSION"))
/// };
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    /// The unique processor name.
    pub name: &'static str,
    /// The pipeline phase.
    pub phase: Phase,
    /// The processor's own version; pass `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// The table written, as `dataset.table`.
    pub output_table: &'static str,
    /// The output columns, in order, as a BigQuery JSON schema: a list of
    /// `{"name", "type", "mode", "description"}` objects. Read with
    /// [`parse_schema`].
    pub schema: &'static str,
    /// The REQUIRED DATE column that partitions the output.
    pub partition_column: &'static str,
    /// The columns that identify a row.
    pub key_columns: &'static [&'static str],
    /// The tables read, as `dataset.table`.
    pub inputs: &'static [&'static str],
    /// The processors whose output this one needs, by name.
    pub upstream: &'static [&'static str],
    /// How far back the processor reads the upstreams `season` does not
    /// name.
    pub lookback: Lookback,
    /// The upstreams it reads over the season to date, if any: declared
    /// through the `season` export (contract 0.1.2), so that the host
    /// checks those dates for gaps.
    pub season: Option<SeasonToDate>,
    /// What to do when an upstream run failed.
    pub upstream_policy: UpstreamPolicy,
    /// What to do when a scheduled date in the lookback has no data.
    pub gap_policy: GapPolicy,
    /// What to do with rows that fail validation.
    pub bad_row_policy: BadRowPolicy,
}

impl Declaration {
    /// A processor with no table, no inputs and no upstream yet, which
    /// blocks on a failed upstream or a gap and fails the run on a bad row.
    pub const fn new(name: &'static str, phase: Phase, version: &'static str) -> Self {
        Declaration {
            name,
            phase,
            version,
            output_table: "",
            schema: "[]",
            partition_column: "",
            key_columns: &[],
            inputs: &[],
            upstream: &[],
            lookback: Lookback::None,
            season: None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    /// A processor that reads other processors' output (phases 4 and 5):
    /// like [`Declaration::new`], but it proceeds when a failed upstream
    /// left its data present, and flags a gap in its lookback in the rows'
    /// data quality issues rather than blocking.
    pub const fn derived(name: &'static str, phase: Phase, version: &'static str) -> Self {
        Declaration {
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            ..Declaration::new(name, phase, version)
        }
    }

    /// The record `info` returns.
    pub fn info(&self) -> ProcessorInfo {
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        ProcessorInfo {
            name: self.name.into(),
            phase: self.phase,
            version: self.version.into(),
            output_table: table(self.output_table),
            schema: self.fields(),
            partition_column: self.partition_column.into(),
            key_columns: names(self.key_columns),
            inputs: self.inputs.iter().map(|t| table(t)).collect(),
            upstream: names(self.upstream),
            lookback: self.lookback,
            upstream_policy: self.upstream_policy,
            gap_policy: self.gap_policy,
            bad_row_policy: self.bad_row_policy,
        }
    }

    /// What the `season` export answers: [`Declaration::season`].
    pub fn season_reads(&self) -> Option<SeasonReads> {
        self.season.map(|season| SeasonReads {
            start: season.start,
            upstreams: season.upstreams.iter().map(|u| u.to_string()).collect(),
        })
    }

    /// The output schema's fields.
    ///
    /// # Panics
    /// When the schema is not a valid schema file: it is a constant of the
    /// processor's, and its unit tests (any that call `info`, `output` or
    /// `check_output`) find the mistake before a build ships.
    pub fn fields(&self) -> Vec<Field> {
        parse_schema(self.schema).unwrap_or_else(|error| panic!("{}: {error}", self.name))
    }

    /// An empty output row set with the schema's columns, in order.
    pub fn output(&self) -> RowSetBuilder {
        let fields = self.fields();
        let columns: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        RowSetBuilder::new(&columns)
    }

    /// The output row set of `rows`, each in the schema's column order:
    /// what `process` returns, e.g.
    /// `DECLARATION.rows(summaries.iter().map(|s| output_row(s, date)))`.
    pub fn rows(&self, rows: impl IntoIterator<Item = Row>) -> RowSet {
        let mut output = self.output();
        for row in rows {
            output.push(row);
        }
        output.finish()
    }

    /// Checks, for a processor's unit tests, that `row` fits the schema as
    /// the host will check it, and that the partition and key columns are
    /// columns of the schema.
    pub fn check_output(&self, row: &[Value]) -> Result<(), String> {
        let fields = parse_schema(self.schema)?;
        for column in std::iter::once(&self.partition_column).chain(self.key_columns) {
            if !fields.iter().any(|f| f.name == *column) {
                return Err(format!("`{column}` is not a column of the schema"));
            }
        }
        check_row(&fields, row)
    }
}

/// One field of a BigQuery JSON schema file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaField {
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    description: String,
}

/// Reads a BigQuery JSON schema: a list of `{"name", "type", "mode",
/// "description"}` objects. Types take BigQuery's names, standard or legacy
/// (`INT64` or `INTEGER`, `FLOAT64` or `FLOAT`, `BOOL` or `BOOLEAN`, and
/// `STRING`, `NUMERIC`, `DATE`, `TIMESTAMP`, `JSON`); the mode is
/// `NULLABLE` (the default), `REQUIRED` or `REPEATED`. FLOAT64 fields
/// refuse NaN and infinities. An error names the field and what is wrong.
pub fn parse_schema(json: &str) -> Result<Vec<Field>, String> {
    let fields: Vec<SchemaField> =
        serde_json::from_str(json).map_err(|e| format!("schema is not a list of fields: {e}"))?;
    fields
        .into_iter()
        .enumerate()
        .map(|(index, f)| {
            let wrong = |what: &str, value: &str| {
                format!("schema field {index} (`{}`) has {what} `{value}`", f.name)
            };
            let field_type = match f.field_type.to_ascii_uppercase().as_str() {
                "STRING" => FieldType::String,
                "INT64" | "INTEGER" => FieldType::Int64,
                "FLOAT64" | "FLOAT" => FieldType::Float64,
                "NUMERIC" => FieldType::Numeric,
                "BOOL" | "BOOLEAN" => FieldType::Bool,
                "DATE" => FieldType::Date,
                "TIMESTAMP" => FieldType::Timestamp,
                "JSON" => FieldType::Json,
                _ => return Err(wrong("the unknown type", &f.field_type)),
            };
            let mode = match f.mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
                None | Some("NULLABLE") => FieldMode::Nullable,
                Some("REQUIRED") => FieldMode::Required,
                Some("REPEATED") => FieldMode::Repeated,
                Some(_) => return Err(wrong("the unknown mode", f.mode.as_deref().unwrap_or(""))),
            };
            Ok(Field {
                name: f.name,
                field_type,
                mode,
                allow_non_finite: false,
                description: f.description,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Date;

    const DECLARATION: Declaration = Declaration {
        output_table: "nba.points",
        schema: r#"[
            {"name": "game_date", "type": "DATE", "mode": "REQUIRED", "description": "The partition."},
            {"name": "points", "type": "INT64", "mode": "REQUIRED", "description": "Points."}
        ]"#,
        partition_column: "game_date",
        key_columns: &["points"],
        inputs: &["nba_raw.box_scores"],
        lookback: Lookback::Days(3),
        ..Declaration::new("PointsProcessor", Phase::Analytics, "1.0.0")
    };

    #[test]
    fn info_carries_every_declared_value() {
        let info = DECLARATION.info();
        assert_eq!(info.name, "PointsProcessor");
        assert_eq!(info.version, "1.0.0");
        assert_eq!(info.output_table.dataset, "nba");
        assert_eq!(info.output_table.table, "points");
        assert_eq!(info.schema.len(), 2);
        assert_eq!(info.schema[1].name, "points");
        assert_eq!(info.schema[1].field_type, FieldType::Int64);
        assert_eq!(info.schema[0].description, "The partition.");
        assert_eq!(info.inputs[0].table, "box_scores");
        assert!(matches!(info.lookback, Lookback::Days(3)));
        assert!(matches!(info.gap_policy, GapPolicy::Block));
        assert_eq!(
            DECLARATION.output().finish().columns,
            ["game_date", "points"]
        );
    }

    #[test]
    fn a_derived_processor_proceeds_on_present_data_and_flags_gaps() {
        let derived = Declaration::derived("P", Phase::Precompute, "1.0.0");
        assert!(matches!(
            derived.upstream_policy,
            UpstreamPolicy::ProceedIfDataPresent
        ));
        assert!(matches!(derived.gap_policy, GapPolicy::Flag));
        assert!(matches!(derived.bad_row_policy, BadRowPolicy::FailRun));
    }

    #[test]
    fn rows_become_the_output_row_set_in_order() {
        let date = Value::date(Date::new(2026, 1, 11));
        let rows = DECLARATION.rows((1..=2).map(|points| vec![date.clone(), Value::int64(points)]));
        assert_eq!(rows.columns, ["game_date", "points"]);
        assert_eq!(rows.rows.len(), 2);
        assert!(matches!(
            rows.rows[1][1],
            Value::Scalar(crate::Scalar::Int64(2))
        ));
    }

    #[test]
    fn check_output_refuses_a_bad_row_and_an_undeclared_key() {
        let date = Value::date(Date::new(2026, 1, 11));
        assert_eq!(
            DECLARATION.check_output(&[date.clone(), Value::int64(3)]),
            Ok(())
        );
        assert!(
            DECLARATION
                .check_output(&[date.clone(), Value::Null])
                .unwrap_err()
                .contains("`points`")
        );
        let unkeyed = Declaration {
            key_columns: &["player"],
            ..DECLARATION
        };
        assert_eq!(
            unkeyed.check_output(&[date, Value::int64(3)]),
            Err("`player` is not a column of the schema".into())
        );
    }
}

#[cfg(test)]
mod schema_files {
    use super::*;

    #[test]
    fn a_schema_file_takes_standard_and_legacy_type_names_and_defaults_to_nullable() {
        let fields = parse_schema(
            r#"[{"name": "a", "type": "INTEGER", "mode": "REPEATED"},
                {"name": "b", "type": "float"},
                {"name": "c", "type": "BOOLEAN", "mode": "required", "description": "C."}]"#,
        )
        .unwrap();
        assert_eq!(fields[0].field_type, FieldType::Int64);
        assert_eq!(fields[0].mode, FieldMode::Repeated);
        assert_eq!(
            (fields[1].field_type, fields[1].mode),
            (FieldType::Float64, FieldMode::Nullable)
        );
        assert_eq!(
            (fields[2].field_type, fields[2].mode),
            (FieldType::Bool, FieldMode::Required)
        );
        assert!(!fields[1].allow_non_finite);
    }

    #[test]
    fn a_bad_schema_file_is_an_error_naming_the_field_and_the_value() {
        let unknown_type =
            parse_schema(r#"[{"name": "a", "type": "STRING"}, {"name": "b", "type": "INT"}]"#);
        assert_eq!(
            unknown_type.unwrap_err(),
            "schema field 1 (`b`) has the unknown type `INT`"
        );
        let unknown_mode = parse_schema(r#"[{"name": "a", "type": "DATE", "mode": "OPTIONAL"}]"#);
        assert_eq!(
            unknown_mode.unwrap_err(),
            "schema field 0 (`a`) has the unknown mode `OPTIONAL`"
        );
        let misspelt = parse_schema(r#"[{"name": "a", "typ": "DATE"}]"#).unwrap_err();
        assert!(
            misspelt.starts_with("schema is not a list of fields"),
            "{misspelt}"
        );
        assert!(misspelt.contains("typ"), "{misspelt}");
    }
}
