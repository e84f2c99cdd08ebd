"""The base of a precompute processor as the source pipeline wrote them, in
pandas, reading and writing Slate's embedded store (SQLite) where the source
pipeline read and wrote BigQuery.

A processor runs one analysis date at a time:

1. check its dependencies: the upstream table must have rows for the date
   (else the date is skipped, as Slate blocks it), and each scheduled game
   date of the lookback window without upstream rows becomes a data quality
   issue on every row (as Slate's `flag` gap policy records it);
2. extract: SQL reads of only the columns it needs, into DataFrames;
3. calculate: pandas group-bys, into one DataFrame of output rows;
4. save: delete the date's rows from the output table and insert the new
   ones, in one transaction.

The store's layout and encoding, as host/src/store/cells.rs and
host/src/store/embedded/tables.rs define them: a table is the SQLite table
named "dataset.table" (quoted: the dot is part of the name); DATE is TEXT
`YYYY-MM-DD`; BOOL is INTEGER 0 or 1; FLOAT64 is REAL, NULL when absent;
a REPEATED column is TEXT holding a compact JSON array (`[]` when empty).

This module owns only that shape; what a processor computes lives in its own
module, which calls `main` with its class.
"""

import argparse
import json
import sqlite3
import time
from datetime import date, timedelta

import pandas as pd

PLAYER_GAME_SUMMARY = "nba_analytics.player_game_summary"
SCHEDULE = "nba_raw.schedule"


def quoted(name):
    """A table or column name quoted for SQLite, as the store names it."""
    return '"' + name.replace('"', '""') + '"'


def season_start(day):
    """The first day of the season `day` belongs to: the 1st of October."""
    return date(day.year if day.month >= 10 else day.year - 1, 10, 1)


def json_list(items):
    """A REPEATED cell as the store keeps it: compact JSON, as serde_json writes."""
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


class PrecomputeProcessorBase:
    """One precompute processor: dependency checks, extract, calculate, save."""

    # Set by each processor.
    processor_name = None
    output_table = None
    partition_column = None
    # Both reference processors read the player game summaries, with a
    # lookback of their last 10 scheduled game dates.
    upstream = "PlayerGameSummaryProcessor"
    upstream_table = PLAYER_GAME_SUMMARY
    calendar_table = SCHEDULE
    lookback_games = 10

    def __init__(self, connection):
        self.connection = connection

    def read(self, sql, *params):
        """A query's rows as a DataFrame."""
        return pd.read_sql_query(sql, self.connection, params=params)

    def run(self, analysis_date):
        """Processes one date; returns the rows written, or None when skipped."""
        if not self.upstream_has_rows(analysis_date):
            return None
        gaps = self.lookback_gaps(analysis_date)
        raw = self.extract_raw_data(analysis_date)
        rows = self.calculate_precompute(analysis_date, raw)
        if gaps:
            rows["data_quality_issues"] = [
                issues + gaps for issues in rows["data_quality_issues"]
            ]
        self.save_precompute(analysis_date, rows)
        return len(rows)

    def upstream_has_rows(self, analysis_date):
        """Whether the upstream table has rows for the date."""
        (present,) = self.connection.execute(
            f"SELECT EXISTS (SELECT 1 FROM {quoted(self.upstream_table)}"
            " WHERE game_date = ?)",
            (analysis_date.isoformat(),),
        ).fetchone()
        return bool(present)

    def lookback_gaps(self, analysis_date):
        """The lookback window's scheduled game dates without upstream rows,
        oldest first, each as the issue Slate records."""
        missing = self.connection.execute(
            f"""
            SELECT lookback.game_date
            FROM (SELECT DISTINCT game_date FROM {quoted(self.calendar_table)}
                  WHERE game_date < ? ORDER BY game_date DESC LIMIT ?) AS lookback
            WHERE NOT EXISTS (SELECT 1 FROM {quoted(self.upstream_table)} AS upstream
                              WHERE upstream.game_date = lookback.game_date)
            ORDER BY lookback.game_date
            """,
            (analysis_date.isoformat(), self.lookback_games),
        ).fetchall()
        return [
            f"lookback gap: {self.upstream} has no rows for scheduled date {day}"
            for (day,) in missing
        ]

    def extract_raw_data(self, analysis_date):
        """The inputs of one date, as DataFrames."""
        raise NotImplementedError

    def calculate_precompute(self, analysis_date, raw):
        """The output rows of one date, as a DataFrame in schema order."""
        raise NotImplementedError

    def save_precompute(self, analysis_date, rows):
        """Replaces the date's rows in the output table, in one transaction."""
        rows = rows.assign(data_quality_issues=rows["data_quality_issues"].map(json_list))
        with self.connection:
            self.connection.execute(
                f"DELETE FROM {quoted(self.output_table)}"
                f" WHERE {quoted(self.partition_column)} = ?",
                (analysis_date.isoformat(),),
            )
            rows.to_sql(self.output_table, self.connection, if_exists="append", index=False)


def main(processor_class):
    """Runs `processor_class` over every date of a range, as a backfill does,
    and prints one JSON line: dates run and skipped, rows, seconds."""
    parser = argparse.ArgumentParser(description=processor_class.__doc__)
    parser.add_argument("--store", required=True, help="the store file (slate.db) to read and write")
    parser.add_argument("--from", dest="start", required=True, type=date.fromisoformat,
                        help="the first date, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, type=date.fromisoformat,
                        help="the last date, YYYY-MM-DD, included")
    args = parser.parse_args()

    connection = sqlite3.connect(args.store, timeout=10)
    # The durability Slate's store runs with (WAL is the file's own mode).
    connection.execute("PRAGMA synchronous = NORMAL")
    processor = processor_class(connection)
    started = time.perf_counter()
    dates_run = dates_skipped = rows = 0
    day = args.start
    while day <= args.end:
        written = processor.run(day)
        if written is None:
            dates_skipped += 1
        else:
            dates_run += 1
            rows += written
        day += timedelta(days=1)
    connection.close()
    print(json.dumps({
        "processor": processor_class.processor_name,
        "dates_run": dates_run,
        "dates_skipped": dates_skipped,
        "rows": rows,
        "seconds": time.perf_counter() - started,
    }))
