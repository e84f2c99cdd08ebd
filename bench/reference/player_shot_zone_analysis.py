"""PlayerShotZoneAnalysisProcessor in pandas: one row per player with a game
this season before the analysis date, with their shot mix and accuracy by
court zone over their last 10 games.

The reference for plugins/player-shot-zone-analysis (src/analysis.rs): the
same rows, the way the source pipeline computed them.

    python player_shot_zone_analysis.py --store slate.db --from 2025-10-21 --to 2026-04-12
"""

from datetime import timedelta

from precompute_base import (
    PLAYER_GAME_SUMMARY,
    PrecomputeProcessorBase,
    main,
    quoted,
    season_start,
)

# The court zones, in box score order (plugins/basketball).
ZONES = ["ra", "paint", "mid", "corner3", "atb3"]
ATTEMPTS = [f"{zone}_fga" for zone in ZONES]
SHOTS = [column for zone in ZONES for column in (f"{zone}_fga", f"{zone}_fgm")]

# How many of a player's most recent games make their window.
WINDOW_GAMES = 10

# The output table's columns, in schema order.
COLUMNS = [
    "analysis_date",
    "player_lookup",
    "team_abbr",
    "games_in_window",
    "fga_per_game",
    *[column for zone in ZONES for column in (f"attempt_share_{zone}", f"fg_pct_{zone}")],
    "data_quality_issues",
]


class PlayerShotZoneAnalysisProcessor(PrecomputeProcessorBase):
    """PlayerShotZoneAnalysisProcessor: shot mix by zone per player, in pandas."""

    processor_name = "PlayerShotZoneAnalysisProcessor"
    output_table = "nba_precompute.player_shot_zone_analysis"
    partition_column = "analysis_date"

    def extract_raw_data(self, analysis_date):
        columns = ", ".join(["player_lookup", "team_abbr", "game_id", "game_date", *SHOTS])
        # On the season's first day the range is empty: no games, no rows.
        return self.read(
            f"SELECT {columns} FROM {quoted(PLAYER_GAME_SUMMARY)} WHERE game_date BETWEEN ? AND ?",
            season_start(analysis_date).isoformat(),
            (analysis_date - timedelta(days=1)).isoformat(),
        )

    def calculate_precompute(self, analysis_date, games):
        # Each player's last 10 games: most recent first, games of the same
        # day by game id, descending.
        window = (
            games.sort_values(["player_lookup", "game_date", "game_id"], ascending=[True, False, False])
            .groupby("player_lookup")
            .head(WINDOW_GAMES)
        )
        by_player = window.groupby("player_lookup")
        rows = by_player.agg(
            team_abbr=("team_abbr", "first"),
            games_in_window=("game_id", "size"),
        ).join(by_player[SHOTS].sum())

        attempts = rows[ATTEMPTS].sum(axis=1)
        rows["fga_per_game"] = attempts / rows["games_in_window"]
        for zone in ZONES:
            zone_attempts, zone_makes = rows[f"{zone}_fga"], rows[f"{zone}_fgm"]
            # NULL where the denominator is zero, never NaN.
            rows[f"attempt_share_{zone}"] = (zone_attempts / attempts).where(attempts > 0)
            rows[f"fg_pct_{zone}"] = (zone_makes / zone_attempts).where(zone_attempts > 0)
        rows["analysis_date"] = analysis_date.isoformat()
        # The processor has no issues of its own; lookback gaps are added.
        rows["data_quality_issues"] = [[] for _ in range(len(rows))]
        return rows.reset_index()[COLUMNS]


if __name__ == "__main__":
    main(PlayerShotZoneAnalysisProcessor)
