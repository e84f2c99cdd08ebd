//! Schema drift: what to do when a live table's schema differs from the
//! schema a processor declares.
//!
//! One rule for every backend. A column the processor adds as NULLABLE is
//! an additive migration: existing rows read NULL for it, and nothing that
//! reads the table breaks. A NULLABLE (or REPEATED) column the processor no
//! longer declares stays in the live table, and its new rows leave it NULL
//! (empty): readers already take NULL there, and an earlier version can be
//! rolled back to after a later one added a column. Anything else (a type
//! changed, a mode tightened or loosened, a REQUIRED column removed, the
//! partition column moved) could break readers or lose data, so it is
//! refused with every difference listed.

use std::fmt;

use crate::schema::{Column, ColumnMode, TableName, TableSchema};

/// The columns to add to a live table so that it takes the declared rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// New NULLABLE columns, in declared order; appended to the live table.
    pub added: Vec<Column>,
}

impl Migration {
    /// Whether the live table already matches.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
    }

    /// The live schema with the added columns appended, and the declared
    /// key columns: what the table is after the migration.
    pub fn apply(&self, live: &TableSchema, declared: &TableSchema) -> TableSchema {
        let mut columns = live.columns.clone();
        columns.extend(self.added.iter().cloned());
        TableSchema {
            columns,
            partition_column: live.partition_column.clone(),
            key_columns: declared.key_columns.clone(),
        }
    }
}

/// A live table that cannot take the declared schema without breaking
/// readers or losing data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{table}: the live table's schema differs from the processor's, and only new NULLABLE \
     columns can be added: {}",
    .differences.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
)]
pub struct DriftRefused {
    /// The table.
    pub table: TableName,
    /// Every difference that is not an additive change.
    pub differences: Vec<Difference>,
}

/// One difference between a live schema and a declared one.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// The live table has a REQUIRED column the processor no longer
    /// declares: its new rows could not hold it.
    Removed(Column),
    /// A new column that is not NULLABLE: existing rows could not hold it.
    AddedNotNullable(Column),
    /// The same column with another type.
    TypeChanged {
        /// The column.
        name: String,
        /// Its type in the live table.
        live: String,
        /// Its declared type.
        declared: String,
    },
    /// The same column with another mode.
    ModeChanged {
        /// The column.
        name: String,
        /// Its mode in the live table.
        live: ColumnMode,
        /// Its declared mode.
        declared: ColumnMode,
    },
    /// A column renamed only in letter case. Both warehouses take column
    /// names without case, so it is no new column: adding it failed on
    /// BigQuery and broke the table for every version.
    CaseChanged {
        /// Its name in the live table.
        live: String,
        /// Its declared name.
        declared: String,
    },
    /// The table is partitioned by another column.
    PartitionChanged {
        /// The live partition column.
        live: String,
        /// The declared partition column.
        declared: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Removed(c) => write!(
                f,
                "column `{}` ({} {}) is in the live table but no longer declared, and its \
                 new rows could not hold it",
                c.name, c.mode, c.column_type
            ),
            Difference::AddedNotNullable(c) => write!(
                f,
                "new column `{}` is {} {}, but a new column must be NULLABLE",
                c.name, c.mode, c.column_type
            ),
            Difference::TypeChanged {
                name,
                live,
                declared,
            } => write!(f, "column `{name}` changes type from {live} to {declared}"),
            Difference::ModeChanged {
                name,
                live,
                declared,
            } => write!(f, "column `{name}` changes mode from {live} to {declared}"),
            Difference::CaseChanged { live, declared } => write!(
                f,
                "column `{live}` is renamed `{declared}`, only in letter case: a warehouse \
                 takes column names without case, so it would be one column under two names; \
                 declare it `{live}`"
            ),
            Difference::PartitionChanged { live, declared } => write!(
                f,
                "the partition column changes from `{live}` to `{declared}`"
            ),
        }
    }
}

/// Compares a live table's schema with the declared one: the additive
/// migration to apply, or every difference that refuses it.
pub fn plan(
    table: &TableName,
    live: &TableSchema,
    declared: &TableSchema,
) -> Result<Migration, DriftRefused> {
    let mut differences = Vec::new();
    if live.partition_column != declared.partition_column {
        differences.push(Difference::PartitionChanged {
            live: live.partition_column.clone(),
            declared: declared.partition_column.clone(),
        });
    }
    let same_but_case = |a: &str, b: &str| a != b && a.eq_ignore_ascii_case(b);
    for column in &live.columns {
        match declared.columns.iter().find(|c| c.name == column.name) {
            None if declared
                .columns
                .iter()
                .any(|c| same_but_case(&c.name, &column.name)) => {}
            None if column.mode != ColumnMode::Required => {}
            None => differences.push(Difference::Removed(column.clone())),
            Some(wanted) => {
                let (live_type, declared_type) = (type_name(column), type_name(wanted));
                if live_type != declared_type {
                    differences.push(Difference::TypeChanged {
                        name: column.name.clone(),
                        live: live_type,
                        declared: declared_type,
                    });
                }
                if column.mode != wanted.mode {
                    differences.push(Difference::ModeChanged {
                        name: column.name.clone(),
                        live: column.mode,
                        declared: wanted.mode,
                    });
                }
            }
        }
    }
    let mut added = Vec::new();
    for column in &declared.columns {
        if live.index_of(&column.name).is_some() {
            continue;
        }
        if let Some(renamed) = (live.columns.iter()).find(|c| same_but_case(&c.name, &column.name))
        {
            differences.push(Difference::CaseChanged {
                live: renamed.name.clone(),
                declared: column.name.clone(),
            });
            continue;
        }
        if column.mode == ColumnMode::Nullable {
            added.push(column.clone());
        } else {
            differences.push(Difference::AddedNotNullable(column.clone()));
        }
    }
    if differences.is_empty() {
        Ok(Migration { added })
    } else {
        Err(DriftRefused {
            table: table.clone(),
            differences,
        })
    }
}

/// A column's type as compared: FLOAT64 that admits NaN is another type to
/// its readers than one that does not.
fn type_name(column: &Column) -> String {
    if column.allow_non_finite {
        format!("{} (non-finite allowed)", column.column_type)
    } else {
        column.column_type.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnType;

    fn table() -> TableName {
        TableName::new("nba_precompute", "player_daily_cache")
    }

    fn live() -> TableSchema {
        TableSchema {
            columns: vec![
                Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
                Column::new("cache_date", ColumnType::Date, ColumnMode::Required),
                Column::new("points_avg", ColumnType::Float64, ColumnMode::Nullable),
            ],
            partition_column: "cache_date".into(),
            key_columns: vec!["player_lookup".into()],
        }
    }

    fn declared_with(change: impl FnOnce(&mut TableSchema)) -> TableSchema {
        let mut schema = live();
        change(&mut schema);
        schema
    }

    /// Before, `Points_Avg` was planned as a new column beside
    /// `points_avg`: BigQuery's table then held both names and refused
    /// every later commit, the old version's included.
    #[test]
    fn a_column_renamed_only_in_letter_case_is_refused_not_added() {
        let declared = declared_with(|s| s.columns[2].name = "Points_Avg".into());
        let refused = plan(&table(), &live(), &declared).unwrap_err();
        assert_eq!(
            refused.differences,
            [Difference::CaseChanged {
                live: "points_avg".into(),
                declared: "Points_Avg".into()
            }]
        );
        assert_eq!(
            refused.differences[0].to_string(),
            "column `points_avg` is renamed `Points_Avg`, only in letter case: a warehouse \
             takes column names without case, so it would be one column under two names; \
             declare it `points_avg`"
        );
        let required = declared_with(|s| s.columns[0].name = "PLAYER_LOOKUP".into());
        let refused = plan(&table(), &live(), &required).unwrap_err();
        assert_eq!(
            refused.differences.len(),
            1,
            "not also removed: {refused:?}"
        );
    }

    #[test]
    fn an_identical_schema_needs_no_migration() {
        assert!(plan(&table(), &live(), &live()).unwrap().is_empty());
    }

    #[test]
    fn a_new_nullable_column_is_an_additive_migration_appended_to_the_live_table() {
        let declared = declared_with(|s| {
            s.columns.insert(
                1,
                Column::new("minutes_avg", ColumnType::Float64, ColumnMode::Nullable),
            )
        });
        let migration = plan(&table(), &live(), &declared).unwrap();
        assert_eq!(
            migration.added,
            [Column::new(
                "minutes_avg",
                ColumnType::Float64,
                ColumnMode::Nullable
            )]
        );
        let after = migration.apply(&live(), &declared);
        let names: Vec<&str> = after.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["player_lookup", "cache_date", "points_avg", "minutes_avg"]
        );
    }

    #[test]
    fn a_new_required_column_is_refused() {
        let declared = declared_with(|s| {
            s.columns.push(Column::new(
                "games",
                ColumnType::Int64,
                ColumnMode::Required,
            ))
        });
        let refused = plan(&table(), &live(), &declared).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "nba_precompute.player_daily_cache: the live table's schema differs from the \
             processor's, and only new NULLABLE columns can be added: new column `games` is \
             REQUIRED INT64, but a new column must be NULLABLE"
        );
    }

    #[test]
    fn every_non_additive_difference_is_listed_not_just_the_first() {
        let declared = TableSchema {
            columns: vec![
                Column::new("player_lookup", ColumnType::Int64, ColumnMode::Required),
                Column::new("cache_date", ColumnType::Date, ColumnMode::Nullable),
            ],
            partition_column: "cache_date".into(),
            key_columns: vec![],
        };
        let refused = plan(&table(), &live(), &declared).unwrap_err();
        let listed: Vec<String> = refused.differences.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            listed,
            [
                "column `player_lookup` changes type from STRING to INT64",
                "column `cache_date` changes mode from REQUIRED to NULLABLE",
            ]
        );
    }

    #[test]
    fn a_nullable_column_no_longer_declared_stays_and_a_required_one_is_refused() {
        // An earlier version, rolled back to after a later one added
        // `points_avg`: its rows leave the column NULL.
        let earlier = declared_with(|s| s.columns.retain(|c| c.name != "points_avg"));
        assert!(plan(&table(), &live(), &earlier).unwrap().is_empty());
        let without_key = declared_with(|s| s.columns.retain(|c| c.name != "player_lookup"));
        let refused = plan(&table(), &live(), &without_key).unwrap_err();
        assert_eq!(
            refused.differences,
            [Difference::Removed(Column::new(
                "player_lookup",
                ColumnType::String,
                ColumnMode::Required
            ))]
        );
        assert!(
            refused.to_string().ends_with(
                "column `player_lookup` (REQUIRED STRING) is in the live table but no longer \
                 declared, and its new rows could not hold it"
            ),
            "{refused}"
        );
    }

    #[test]
    fn a_tightened_mode_is_refused() {
        let declared = declared_with(|s| s.columns[2].mode = ColumnMode::Required);
        let refused = plan(&table(), &live(), &declared).unwrap_err();
        assert_eq!(
            refused.differences,
            [Difference::ModeChanged {
                name: "points_avg".into(),
                live: ColumnMode::Nullable,
                declared: ColumnMode::Required
            }]
        );
    }

    #[test]
    fn a_moved_partition_column_is_refused() {
        let declared = declared_with(|s| {
            s.columns.push(Column::new(
                "game_date",
                ColumnType::Date,
                ColumnMode::Nullable,
            ));
            s.partition_column = "game_date".into();
        });
        let refused = plan(&table(), &live(), &declared).unwrap_err();
        assert_eq!(
            refused.differences,
            [Difference::PartitionChanged {
                live: "cache_date".into(),
                declared: "game_date".into()
            }]
        );
    }
}
