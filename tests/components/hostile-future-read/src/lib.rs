//! Hostile test fixture `HostileFutureRead`: reads its one declared input,
//! the control table, from its analysis date to the day after
//! ([`hostile_common::read_every_way`]).

use slate_sdk::ReadError;

fixture_common::processor! {
    HostileFutureRead,
    info: hostile_common::info("HostileFutureRead", "hostile_future_read"),
    process: |date| hostile_common::read_every_way(
        date,
        hostile_common::CONTROL,
        (date, date.add_days(1)),
        "day",
        ("ReadError::InvalidRange", |error| match error {
            ReadError::InvalidRange(answer) => Some(answer),
            _ => None,
        }),
    ),
}
