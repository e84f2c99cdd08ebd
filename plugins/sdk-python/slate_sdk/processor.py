"""The `Processor` base class: a declaration answers `info()`, and `run`
answers `process()` with every failure turned into a `process-error` whose
message is the exception's type and text, the traceback logged through
`host.log`. An exception never escapes as a trap."""

import datetime
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from componentize_py_types import Err
from wit_world.exports import processor as wit
from wit_world.exports import season as wit_season
from wit_world.imports import host, types

from . import dates
from .batch import ReadFailed, table
from .values import OutputRows


class ProcessFailed(Exception):
    """Raise to fail the run with `internal` and this message."""

    kind = wit.ProcessError_Internal


class InvalidInput(ProcessFailed):
    """Raise when the inputs are present but wrong: `invalid-input`."""

    kind = wit.ProcessError_InvalidInput


class MissingData(ProcessFailed):
    """Raise when inputs the processor needs are absent: `missing-data`."""

    kind = wit.ProcessError_MissingData


def days(count: int) -> wit.Lookback:
    """A lookback of `count` calendar days."""
    return wit.Lookback_Days(count)


def games(count: int) -> wit.Lookback:
    """A lookback of `count` games."""
    return wit.Lookback_Games(count)


@dataclass(frozen=True)
class SeasonToDate:
    """Reads of `upstreams` over the season to date, from the latest
    `start` (month, day) before the analysis date: a declaration's
    `season`, which the host checks back to the season's start for gaps
    (contract 0.1.2). The other upstreams keep `lookback`."""

    start: Tuple[int, int]
    upstreams: Tuple[str, ...]


def season_to_date(start: Tuple[int, int], upstreams: Iterable[str]) -> SeasonToDate:
    """A declaration's `season`: `season_to_date((10, 1), ["Up"])`. Raises
    `ValueError` for a month outside 1 to 12 or a day outside 1 to 31 (the
    host refuses a day its month lacks), `TypeError` for a bare string of
    upstreams."""
    month, day = start
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (month, day)):
        raise TypeError(f"a season starts on a (month, day) of whole numbers, not {start!r}")
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"a season starts on a month 1 to 12 and a day 1 to 31, not {start!r}")
    if isinstance(upstreams, (str, bytes)):
        raise TypeError(f"the upstreams read over the season are a list of names, not {upstreams!r}")
    return SeasonToDate((month, day), tuple(upstreams))


_PHASES = {phase.name.lower(): phase for phase in wit.Phase}


def _enum(kind, text: str, what: str):
    try:
        return kind[text.upper().replace("-", "_")]
    except KeyError:
        choices = ", ".join(member.name.lower().replace("_", "-") for member in kind)
        raise ValueError(f"{what} {text!r} is none of: {choices}") from None


@dataclass
class Declaration:
    """Everything `info()` says, in plain Python. Policies are their WIT
    names (`"block"`, `"proceed-if-data-present"`, `"flag"`,
    `"fail-run"`, `"quarantine"`); tables are `"dataset.table"`."""

    name: str
    phase: str
    version: str
    output_table: str
    schema: List[types.Field]
    partition_column: str
    key_columns: List[str]
    inputs: List[str] = field(default_factory=list)
    upstream: List[str] = field(default_factory=list)
    lookback: wit.Lookback = field(default_factory=wit.Lookback_None_)
    season: Optional[SeasonToDate] = None
    upstream_policy: str = "block"
    gap_policy: str = "block"
    bad_row_policy: str = "fail-run"

    def info(self) -> wit.ProcessorInfo:
        """The WIT `processor-info`; raises `ValueError` naming a bad policy
        or phase."""
        return wit.ProcessorInfo(
            name=self.name,
            phase=_enum(wit.Phase, self.phase, "phase"),
            version=self.version,
            output_table=table(self.output_table),
            schema=self.schema,
            partition_column=self.partition_column,
            key_columns=list(self.key_columns),
            inputs=[table(name) for name in self.inputs],
            upstream=list(self.upstream),
            lookback=self.lookback,
            upstream_policy=_enum(wit.UpstreamPolicy, self.upstream_policy, "upstream policy"),
            gap_policy=_enum(wit.GapPolicy, self.gap_policy, "gap policy"),
            bad_row_policy=_enum(wit.BadRowPolicy, self.bad_row_policy, "bad row policy"),
        )

    def reads_over_season(self) -> Optional[wit_season.SeasonReads]:
        """What the `season` export answers: the WIT `season-reads` of
        `season`, or None."""
        if self.season is None:
            return None
        month, day = self.season.start
        return wit_season.SeasonReads(
            start=wit_season.MonthDay(month=month, day=day),
            upstreams=list(self.season.upstreams),
        )

    def output(self) -> OutputRows:
        """Empty output rows under this declaration's schema."""
        return OutputRows(self.schema)


def log(level: str, message: str) -> None:
    """Writes `message` to the host's log at `level` (`trace`, `debug`,
    `info`, `warn`, `error`)."""
    host.log(_enum(host.LogLevel, level, "log level"), message)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def process_error(error: BaseException) -> wit.ProcessError:
    """The `process-error` an exception becomes: a `ProcessFailed` its own
    kind and text; a read the host refused `missing-data` for an unknown
    table and `internal` otherwise; anything else `internal`; every message
    led by the exception's type."""
    if isinstance(error, ProcessFailed):
        return error.kind(_describe(error))
    if isinstance(error, ReadFailed) and error.case == "unknown-table":
        return wit.ProcessError_MissingData(_describe(error))
    return wit.ProcessError_Internal(_describe(error))


class Processor:
    """Subclass it as `Processor` in your app module, set `declaration`,
    and write `run(self, analysis_date: datetime.date)`, returning the
    finished `OutputRows`, a `row-set`, or an iterable of dicts."""

    declaration: Declaration

    def run(self, analysis_date: datetime.date) -> Union[OutputRows, types.RowSet, Iterable[Dict[str, Any]]]:
        raise NotImplementedError("a processor defines run(self, analysis_date)")

    def info(self) -> wit.ProcessorInfo:
        return self.declaration.info()

    def process(self, analysis_date: types.Date) -> types.RowSet:
        try:
            result = self.run(dates.from_wit(analysis_date))
            if isinstance(result, OutputRows):
                return result.finish()
            if isinstance(result, types.RowSet):
                return result
            if result is None:
                raise TypeError(
                    "run returned None: return OutputRows, a row-set or an iterable of row dicts "
                    "(does run end without `return`?)"
                )
            rows = self.declaration.output()
            rows.extend(result)
            return rows.finish()
        # Every failure becomes a process-error: `sys.exit()` too, whose
        # SystemExit is no Exception and would otherwise trap the instance.
        except BaseException as error:
            try:
                host.log(host.LogLevel.ERROR, "".join(traceback.format_exception(error)))
            except Exception:
                pass
            raise Err(process_error(error)) from None


def season_of(processor: type) -> type:
    """The `Season` export class of the app's `Processor` class: it answers
    the declaration's `season`. `slate build` exports it for an app that
    defines no `Season` of its own."""

    class Season:
        def reads_over_season(self) -> Optional[wit_season.SeasonReads]:
            declaration = getattr(processor, "declaration", None)
            return declaration.reads_over_season() if declaration is not None else None

    return Season
