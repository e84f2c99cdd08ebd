//! Hostile test fixture `HostileUndeclaredRead`: reads a table it did not
//! declare, the raw box scores, on its analysis date
//! ([`hostile_common::read_every_way`]).

use slate_sdk::ReadError;

fixture_common::processor! {
    HostileUndeclaredRead,
    info: hostile_common::info("HostileUndeclaredRead", "hostile_undeclared_read"),
    process: |date| hostile_common::read_every_way(
        date,
        "nba_raw.player_boxscores",
        (date, date),
        "player_lookup",
        ("ReadError::UndeclaredTable", |error| match error {
            ReadError::UndeclaredTable(answer) => Some(answer),
            _ => None,
        }),
    ),
}
