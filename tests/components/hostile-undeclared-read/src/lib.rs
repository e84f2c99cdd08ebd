//! Hostile test fixture `HostileUndeclaredRead`: reads a table it did not declare.

use slate_sdk::ProcessError;

fixture_common::processor! {
    HostileUndeclaredRead,
    info: hostile_common::info("HostileUndeclaredRead", "hostile_undeclared_read"),
    process: |date| {
        let secret = slate_sdk::table("nba_raw.player_boxscores");
        match slate_sdk::read_rows(&secret, date, date) {
            Ok(rows) => Ok(hostile_common::rows(date, rows.rows.len() as i64)),
            Err(error) => Err(ProcessError::Internal(format!("refused: {error:?}"))),
        }
    },
}
