//! `{{processor}}`: one row per game on the analysis date.
//!
//! Replace `process` with your processor's logic; keep `schema.json`, the
//! declaration and the golden files in step with it.

use slate_sdk::{Date, Declaration, Guest, Phase, ProcessError, ProcessorInfo, RowSet, Value, table};

/// The schedule this processor reads.
pub const SCHEDULE: &str = "nba_raw.schedule";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: "{{table}}",
    schema: include_str!("../schema.json"),
    partition_column: "game_date",
    key_columns: &["home_team"],
    inputs: &[SCHEDULE],
    ..Declaration::new("{{processor}}", Phase::Analytics, env!("CARGO_PKG_VERSION"))
};

/// The processor, exported as the component.
pub struct Processor;

impl Guest for Processor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        const COLUMNS: [&str; 2] = ["home_team", "away_team"];
        let games = slate_sdk::read_column_batch(&table(SCHEDULE), date, date, &COLUMNS)?;
        let [home, away] = games.columns(COLUMNS)?;
        let mut rows = DECLARATION.output();
        for game in 0..games.len() {
            rows.push(vec![
                Value::date(date),
                Value::string(home.string(game)?),
                Value::string(away.string(game)?),
            ]);
        }
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(Processor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let date = slate_sdk::date_from_days(20_464);
        let row = [Value::date(date), Value::string("LAC"), Value::string("DAL")];
        DECLARATION.check_output(&row).unwrap();
    }
}
