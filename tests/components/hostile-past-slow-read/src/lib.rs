//! Hostile test fixture `HostilePastSlowRead`: declares SlowProcessor (a
//! test processor, never bundled: a host loads it from a plugin folder or
//! the registry) upstream with no lookback, so it may read that
//! processor's output for its analysis date alone, then reads it from the
//! day before ([`hostile_common::read_every_way`]).

use slate_sdk::{ProcessorInfo, ReadError};

/// The upstream's output, read one day too far back.
const SLOW_OUTPUT: &str = "slate_test.slow";

fixture_common::processor! {
    HostilePastSlowRead,
    info: ProcessorInfo {
        inputs: vec![slate_sdk::table(SLOW_OUTPUT)],
        upstream: vec!["SlowProcessor".into()],
        ..hostile_common::info("HostilePastSlowRead", "hostile_past_slow_read")
    },
    process: |date| hostile_common::read_every_way(
        date,
        SLOW_OUTPUT,
        (date.add_days(-1), date),
        "n",
        ("ReadError::InvalidRange", |error| match error {
            ReadError::InvalidRange(answer) => Some(answer),
            _ => None,
        }),
    ),
}
