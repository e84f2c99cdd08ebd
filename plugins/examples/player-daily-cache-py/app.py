"""PlayerDailyCacheProcessor in Python: the Rust processor of
`plugins/player-daily-cache`, written again with the Python SDK. One row
per active player per analysis date, with rolling form as of that date;
only games strictly before the date are used. It passes the Rust
processor's golden test byte for byte."""

import datetime

import slate_sdk
from slate_sdk import Declaration, season_to_date

GAME_SUMMARIES = "nba_analytics.player_game_summary"
SCHEDULE = "nba_raw.schedule"

DECLARATION = Declaration(
    name="PlayerDailyCacheProcessor",
    phase="precompute",
    version="0.1.0",
    output_table="nba_precompute.player_daily_cache",
    schema=slate_sdk.load_schema(__file__),
    partition_column="cache_date",
    key_columns=["player_lookup", "cache_date"],
    inputs=[GAME_SUMMARIES, SCHEDULE],
    upstream=["PlayerGameSummaryProcessor"],
    season=season_to_date((10, 1), ["PlayerGameSummaryProcessor"]),
    upstream_policy="proceed-if-data-present",
    gap_policy="flag",
)


def season_start(date: datetime.date) -> datetime.date:
    """A season starts on the first of October."""
    return datetime.date(date.year if date.month >= 10 else date.year - 1, 10, 1)


def mean(values):
    """The mean, summed in order as the Rust processor sums (0.0 if empty)."""
    total, count = 0.0, 0
    for v in values:
        total += v
        count += 1
    return total / count if count else 0.0


def build_cache(analysis_date, past_games, schedule):
    """The cache rows for `analysis_date`, in player order: one per player
    whose latest team plays that day. `past_games` are (player, date, team,
    points, minutes); `schedule` (home, away) pairs."""
    by_player = {}
    for game in past_games:
        if game[1] < analysis_date:
            by_player.setdefault(game[0], []).append(game)
    rows = []
    for player in sorted(by_player):
        played = sorted(by_player[player], key=lambda g: g[1], reverse=True)
        latest = played[0]
        team = latest[2]
        matchup = next(
            ((away, True) if home == team else (home, False)
             for home, away in schedule if team in (home, away)),
            None,
        )
        if matchup is None:
            continue
        opponent, is_home = matchup
        count = len(played)
        issues = [f"only {count} games played, fewer than {window}" for window in (5, 10) if count < window]
        days_rest = (analysis_date - latest[1]).days - 1
        rows.append({
            "player_lookup": player,
            "cache_date": analysis_date,
            "team_abbr": team,
            "opponent_abbr": opponent,
            "is_home": is_home,
            "games_played": count,
            "points_avg_last_5": mean(float(g[3]) for g in played[:5]),
            "points_avg_last_10": mean(float(g[3]) for g in played[:10]),
            "minutes_avg_last_5": mean(g[4] for g in played[:5]),
            "minutes_avg_last_10": mean(g[4] for g in played[:10]),
            "points_avg_season": mean(float(g[3]) for g in played),
            "minutes_avg_season": mean(g[4] for g in played),
            "games_in_last_7_days": sum(1 for g in played if g[1] >= analysis_date - datetime.timedelta(days=7)),
            "days_rest": days_rest,
            "back_to_back": days_rest == 0,
            "last_game_date": latest[1],
            "data_quality_issues": issues,
        })
    return rows


class Processor(slate_sdk.Processor):
    """The component's export."""

    declaration = DECLARATION

    def run(self, analysis_date):
        start, end = season_start(analysis_date), analysis_date - datetime.timedelta(days=1)
        past_games = []
        if start <= end:
            summaries = slate_sdk.read_column_batch(
                GAME_SUMMARIES, start, end, ["player_lookup", "game_date", "team_abbr", "points", "minutes"])
            past_games = list(zip(*summaries.columns("player_lookup", "game_date", "team_abbr", "points", "minutes")))
        schedule = slate_sdk.read_column_batch(SCHEDULE, analysis_date, analysis_date, ["home_team", "away_team"])
        matchups = list(zip(*schedule.columns("home_team", "away_team")))
        rows = self.declaration.output()
        rows.extend(build_cache(analysis_date, past_games, matchups))
        return rows
