//! Hostile test fixture `UpstreamSkipper`: declares
//! PlayerGameSummaryProcessor's output among its inputs without naming that
//! processor upstream, so that its runs would go ahead whether or not the
//! summaries had run, with no check of what they read. Let through, it
//! writes one row per summary row read, and one more.

use slate_sdk::ProcessorInfo;

/// Another processor's output.
const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";

fixture_common::processor! {
    UpstreamSkipper,
    info: ProcessorInfo {
        inputs: vec![slate_sdk::table(GAME_SUMMARIES)],
        ..hostile_common::info("UpstreamSkipper", "hostile_upstream_skip")
    },
    process: |date| {
        let read = slate_sdk::read_rows(&slate_sdk::table(GAME_SUMMARIES), date, date)?;
        Ok(hostile_common::rows(date, read.rows.len() as i64 + 1))
    },
}
