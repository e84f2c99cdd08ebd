"""{{processor}}: one row per game on the analysis date.

Replace `run` with your processor's logic; keep `schema.json`, the
declaration and the golden files in step with it."""

import slate_sdk
from slate_sdk import Declaration

SCHEDULE = "nba_raw.schedule"

DECLARATION = Declaration(
    name="{{processor}}",
    phase="analytics",
    version="0.1.0",
    output_table="{{table}}",
    schema=slate_sdk.load_schema(__file__),
    partition_column="game_date",
    key_columns=["home_team"],
    inputs=[SCHEDULE],
)


class Processor(slate_sdk.Processor):
    """The component's export: `info()` from the declaration, `process()`
    from `run`, any exception a `process-error`."""

    declaration = DECLARATION

    def run(self, analysis_date):
        games = slate_sdk.read_column_batch(SCHEDULE, analysis_date, analysis_date, ["home_team", "away_team"])
        rows = self.declaration.output()
        for home, away in zip(*games.columns("home_team", "away_team")):
            rows.add({"game_date": analysis_date, "home_team": home, "away_team": away})
        return rows
