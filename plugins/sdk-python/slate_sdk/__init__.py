"""Slate's Python SDK: what a processor written in Python needs beside the
bindings componentize-py generates from `wit/` (the `wit_world` package).

- `values`: cells and rows, built from plain Python values and a schema.
- `dates`: the WIT `date`, `datetime.date` and day numbers, converted.
- `batch`: reading tables, and column batches decoded into Python lists.
- `processor`: the `Processor` base class, which turns a declaration into
  `info()` and any exception into a `process-error`.

A processor module defines `class Processor(slate_sdk.Processor)` with a
`declaration` and a `run(self, analysis_date)` method; see
`plugins/README.md`.
"""

from .dates import from_days, from_wit, to_days, to_wit
from .values import OutputRows, load_schema, scalar, value
from .batch import Batch, ReadFailed, read_coded_column_batch, read_column_batch, read_columns, table
from .processor import (
    Declaration,
    InvalidInput,
    MissingData,
    ProcessFailed,
    Processor,
    SeasonToDate,
    days,
    games,
    log,
    season_of,
    season_to_date,
)

__all__ = [
    "Batch",
    "Declaration",
    "InvalidInput",
    "MissingData",
    "OutputRows",
    "ProcessFailed",
    "Processor",
    "ReadFailed",
    "SeasonToDate",
    "days",
    "from_days",
    "from_wit",
    "games",
    "load_schema",
    "log",
    "read_coded_column_batch",
    "read_column_batch",
    "read_columns",
    "scalar",
    "season_of",
    "season_to_date",
    "table",
    "to_days",
    "to_wit",
    "value",
]
