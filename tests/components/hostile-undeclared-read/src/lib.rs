//! Hostile test fixture `HostileUndeclaredRead`: reads a table it did not declare.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileUndeclaredRead;

impl Guest for HostileUndeclaredRead {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileUndeclaredRead", "hostile_undeclared_read")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let secret = slate_sdk::table("nba_raw.player_boxscores");
        match slate_sdk::read_rows(&secret, date, date) {
            Ok(rows) => Ok(hostile_common::rows(date, rows.rows.len() as i64)),
            Err(error) => Err(ProcessError::Internal(format!("refused: {error:?}"))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileUndeclaredRead);
