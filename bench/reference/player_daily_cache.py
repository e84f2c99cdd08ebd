"""PlayerDailyCacheProcessor in pandas: one row per active player (a player
whose latest team plays on the analysis date) with rolling form as of that
date, from the season's games before it.

The reference for plugins/player-daily-cache (src/cache.rs): the same rows,
the way the source pipeline computed them.

    python player_daily_cache.py --store slate.db --from 2025-10-21 --to 2026-04-12
"""

from datetime import timedelta

import pandas as pd

from precompute_base import (
    PLAYER_GAME_SUMMARY,
    SCHEDULE,
    PrecomputeProcessorBase,
    main,
    quoted,
    season_start,
)

# The output table's columns, in schema order.
COLUMNS = [
    "player_lookup",
    "cache_date",
    "team_abbr",
    "opponent_abbr",
    "is_home",
    "games_played",
    "points_avg_last_5",
    "points_avg_last_10",
    "minutes_avg_last_5",
    "minutes_avg_last_10",
    "points_avg_season",
    "minutes_avg_season",
    "games_in_last_7_days",
    "days_rest",
    "back_to_back",
    "last_game_date",
    "data_quality_issues",
]

# Histories shorter than these are flagged.
WINDOWS = (5, 10)


class PlayerDailyCacheProcessor(PrecomputeProcessorBase):
    """PlayerDailyCacheProcessor: rolling form per active player, in pandas."""

    processor_name = "PlayerDailyCacheProcessor"
    output_table = "nba_precompute.player_daily_cache"
    partition_column = "cache_date"

    def extract_raw_data(self, analysis_date):
        games = self.read(
            "SELECT player_lookup, game_date, team_abbr, points, minutes"
            f" FROM {quoted(PLAYER_GAME_SUMMARY)} WHERE game_date BETWEEN ? AND ?",
            season_start(analysis_date).isoformat(),
            (analysis_date - timedelta(days=1)).isoformat(),
        )
        schedule = self.read(
            f"SELECT home_team, away_team FROM {quoted(SCHEDULE)} WHERE game_date = ?",
            analysis_date.isoformat(),
        )
        return games, schedule

    def calculate_precompute(self, analysis_date, raw):
        games, schedule = raw
        game_day = pd.to_datetime(games["game_date"], format="%Y-%m-%d")
        games["days_before"] = (pd.Timestamp(analysis_date) - game_day).dt.days
        # Each player's games, most recent first: `recent` 0 is the latest.
        games = games.sort_values(["player_lookup", "days_before"], kind="stable")
        games["recent"] = games.groupby("player_lookup").cumcount()

        def average_of_last(n):
            last = games[games["recent"] < n].groupby("player_lookup")[["points", "minutes"]]
            return last.mean().add_suffix(f"_avg_last_{n}")

        season = games.groupby("player_lookup").agg(
            games_played=("points", "size"),
            points_avg_season=("points", "mean"),
            minutes_avg_season=("minutes", "mean"),
        )
        last_week = (
            games[games["days_before"] <= 7]
            .groupby("player_lookup")
            .size()
            .rename("games_in_last_7_days")
            .to_frame()
        )
        latest = games[games["recent"] == 0].set_index("player_lookup")[
            ["team_abbr", "game_date", "days_before"]
        ]
        form = latest.join([season, average_of_last(5), average_of_last(10), last_week])

        # Each team's game on the date, from either side; a team listed
        # twice keeps its first game, home side first, as Slate finds it.
        home = schedule.rename(columns={"home_team": "team_abbr", "away_team": "opponent_abbr"})
        away = schedule.rename(columns={"away_team": "team_abbr", "home_team": "opponent_abbr"})
        matchups = (
            pd.concat([home.assign(is_home=True), away.assign(is_home=False)])
            .sort_index(kind="stable")
            .drop_duplicates("team_abbr")
        )
        # Inner: a player whose team is idle gets no row.
        rows = form.reset_index().merge(matchups, on="team_abbr")

        rows["cache_date"] = analysis_date.isoformat()
        rows["games_in_last_7_days"] = rows["games_in_last_7_days"].fillna(0).astype("int64")
        rows["days_rest"] = rows["days_before"] - 1
        rows["back_to_back"] = rows["days_rest"] == 0
        rows = rows.rename(columns={"game_date": "last_game_date"})
        rows["data_quality_issues"] = [
            [f"only {played} games played, fewer than {window}" for window in WINDOWS if played < window]
            for played in rows["games_played"]
        ]
        return rows[COLUMNS]


if __name__ == "__main__":
    main(PlayerDailyCacheProcessor)
