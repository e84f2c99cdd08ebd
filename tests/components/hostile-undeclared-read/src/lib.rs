//! Hostile test fixture `HostileUndeclaredRead`: reads a table it did not
//! declare, through every read function the host offers. A read that got
//! through would be written out as rows; when every one is refused as
//! undeclared, the run fails naming each function.

use slate_sdk::{ProcessError, ReadError};

fixture_common::processor! {
    HostileUndeclaredRead,
    info: hostile_common::info("HostileUndeclaredRead", "hostile_undeclared_read"),
    process: |date| {
        let secret = slate_sdk::table("nba_raw.player_boxscores");
        let reads: [(&str, Result<usize, ReadError>); 4] = [
            ("read-rows", slate_sdk::read_rows(&secret, date, date).map(|r| r.rows.len())),
            (
                "read-columns",
                slate_sdk::read_columns(&secret, date, date, &["player_lookup"])
                    .map(|r| r.rows.len()),
            ),
            (
                "read-column-batch",
                slate_sdk::read_column_batch(&secret, date, date, &["player_lookup"])
                    .map(|b| b.len()),
            ),
            (
                "read-coded-column-batch",
                slate_sdk::read_coded_column_batch(&secret, date, date, &[] as &[&str], &["player_lookup"])
                    .map(|b| b.len()),
            ),
        ];
        let mut refused = Vec::new();
        for (function, read) in reads {
            match read {
                Ok(rows) => return Ok(hostile_common::rows(date, rows as i64 + 1)),
                Err(ReadError::UndeclaredTable(_)) => refused.push(function),
                Err(other) => {
                    return Err(ProcessError::Internal(format!("{function}: {other:?}")));
                }
            }
        }
        Err(ProcessError::Internal(format!(
            "refused: ReadError::UndeclaredTable by {}",
            refused.join(", ")
        )))
    },
}
