"""A Python processor that fails on purpose, to show (and test) how a
failure reaches the run record: it reads a table it never declared and
does not catch the refusal. The SDK turns the uncaught `ReadFailed` into a
`process-error` (kind `plugin`) whose message is the exception's type and
text, and logs the traceback through `host.log`: never a trap."""

import slate_sdk
from slate_sdk import Declaration

DECLARATION = Declaration(
    name="FailingPythonProcessor",
    phase="analytics",
    version="0.1.0",
    output_table="slate_examples.failing_python",
    schema=slate_sdk.load_schema(__file__),
    partition_column="game_date",
    key_columns=["home_team"],
    inputs=["nba_raw.schedule"],
)


def teams_playing(analysis_date):
    """Reads a table this processor never declared: the host refuses."""
    box_scores = slate_sdk.read_column_batch("nba_raw.box_scores", analysis_date, analysis_date, ["team_abbr"])
    return set(box_scores.column("team_abbr"))


class Processor(slate_sdk.Processor):
    """The component's export."""

    declaration = DECLARATION

    def run(self, analysis_date):
        return [{"game_date": analysis_date, "home_team": team} for team in sorted(teams_playing(analysis_date))]
