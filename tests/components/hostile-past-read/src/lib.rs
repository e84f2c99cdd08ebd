//! Hostile test fixture `HostilePastRead`: declares
//! PlayerGameSummaryProcessor upstream with no lookback, so it may read
//! that processor's output for its analysis date alone, then reads it
//! from the day before ([`hostile_common::read_every_way`]).

use slate_sdk::{ProcessorInfo, ReadError};

/// The upstream's output, read one day too far back.
const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";

fixture_common::processor! {
    HostilePastRead,
    info: ProcessorInfo {
        inputs: vec![slate_sdk::table(GAME_SUMMARIES)],
        upstream: vec!["PlayerGameSummaryProcessor".into()],
        ..hostile_common::info("HostilePastRead", "hostile_past_read")
    },
    process: |date| hostile_common::read_every_way(
        date,
        GAME_SUMMARIES,
        (date.add_days(-1), date),
        "player_lookup",
        ("ReadError::InvalidRange", |error| match error {
            ReadError::InvalidRange(answer) => Some(answer),
            _ => None,
        }),
    ),
}
