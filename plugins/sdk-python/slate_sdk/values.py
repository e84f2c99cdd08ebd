"""Cells and rows: plain Python values in, WIT `value`s out, typed by the
output schema so that an `int` meant as FLOAT64 or a `bool` meant as INT64
crosses as the schema says. Nothing here touches the host."""

import datetime
import decimal
import json
import os
from typing import Any, Dict, Iterable, List

from wit_world.imports import types

from . import dates

_TYPES = {
    "STRING": types.FieldType.STRING,
    "INT64": types.FieldType.INT64,
    "INTEGER": types.FieldType.INT64,
    "FLOAT64": types.FieldType.FLOAT64,
    "FLOAT": types.FieldType.FLOAT64,
    "NUMERIC": types.FieldType.NUMERIC,
    "BOOL": types.FieldType.BOOL,
    "BOOLEAN": types.FieldType.BOOL,
    "DATE": types.FieldType.DATE,
    "TIMESTAMP": types.FieldType.TIMESTAMP,
    "JSON": types.FieldType.JSON,
}
_MODES = {
    "NULLABLE": types.FieldMode.NULLABLE,
    "REQUIRED": types.FieldMode.REQUIRED,
    "REPEATED": types.FieldMode.REPEATED,
}


def load_schema(beside: str, name: str = "schema.json") -> List[types.Field]:
    """The BigQuery JSON schema file `name` in the folder of `beside` (pass
    `__file__`), as WIT fields. Call it at module level: componentize-py
    runs the module while it builds, so the file is read then and is part
    of the component; at run time there is no filesystem."""
    path = os.path.join(os.path.dirname(os.path.abspath(beside)), name)
    with open(path, encoding="utf-8") as file:
        entries = json.load(file)
    return [_field(entry, path) for entry in entries]


def _field(entry: Dict[str, Any], path: str) -> types.Field:
    name = entry.get("name")
    kind = str(entry.get("type", "")).upper()
    mode = str(entry.get("mode", "NULLABLE")).upper()
    if not name:
        problem = "it has no name"
    elif kind not in _TYPES:
        problem = f"type {entry.get('type')!r} is none of {', '.join(_TYPES)}"
    elif mode not in _MODES:
        problem = f"mode {entry.get('mode')!r} is none of {', '.join(_MODES)}"
    else:
        problem = None
    if problem:
        raise ValueError(f"{path}: unusable field {entry!r}: {problem}")
    return types.Field(
        name=name,
        field_type=_TYPES[kind],
        mode=_MODES[mode],
        allow_non_finite=bool(entry.get("allow_non_finite", False)),
        description=entry.get("description", ""),
    )


def scalar(field_type: types.FieldType, cell: Any) -> types.Scalar:
    """`cell` as a WIT scalar of `field_type`. Raises `TypeError` naming
    the type when the cell cannot be one."""
    kind = field_type
    if kind == types.FieldType.STRING and isinstance(cell, str):
        return types.Scalar_String(cell)
    if kind == types.FieldType.INT64 and isinstance(cell, int) and not isinstance(cell, bool):
        return types.Scalar_Int64(cell)
    if kind == types.FieldType.FLOAT64 and isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return types.Scalar_Float64(float(cell))
    if kind == types.FieldType.NUMERIC and isinstance(cell, (str, int, decimal.Decimal)) and not isinstance(cell, bool):
        return types.Scalar_Numeric(str(cell))
    if kind == types.FieldType.BOOL and isinstance(cell, bool):
        return types.Scalar_Boolean(cell)
    if kind == types.FieldType.DATE and isinstance(cell, datetime.date):
        return types.Scalar_Date(dates.to_wit(cell))
    if kind == types.FieldType.TIMESTAMP and isinstance(cell, int) and not isinstance(cell, bool):
        return types.Scalar_Timestamp(cell)
    if kind == types.FieldType.TIMESTAMP and isinstance(cell, datetime.datetime) and cell.tzinfo is not None:
        return types.Scalar_Timestamp((cell - _EPOCH) // datetime.timedelta(microseconds=1))
    if kind == types.FieldType.JSON:
        return types.Scalar_Json(cell if isinstance(cell, str) else json.dumps(cell))
    raise TypeError(f"{type(cell).__name__} {cell!r} is not a {kind.name} ({_TAKES[kind]})")


# The instant TIMESTAMPs count from.
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# What a cell of each type may be, as a refusal names it.
_TAKES = {
    types.FieldType.STRING: "give a str",
    types.FieldType.INT64: "give an int",
    types.FieldType.FLOAT64: "give a float or an int",
    types.FieldType.NUMERIC: "give a decimal.Decimal, a str of digits or an int",
    types.FieldType.BOOL: "give a bool",
    types.FieldType.DATE: "give a datetime.date",
    types.FieldType.TIMESTAMP: "give an int of microseconds since 1970-01-01 UTC, or a datetime with a tzinfo",
    types.FieldType.JSON: "give a str of JSON, or a value json.dumps takes",
}


def value(field: types.Field, cell: Any) -> types.Value:
    """`cell` as the WIT value of a column described by `field`: `None` is
    null, a list is a REPEATED column's values."""
    if cell is None:
        return types.Value_Null()
    if field.mode == types.FieldMode.REPEATED:
        if not isinstance(cell, (list, tuple)):
            raise TypeError(f"{type(cell).__name__} {cell!r} is not a list for a REPEATED column")
        return types.Value_Repeated([scalar(field.field_type, item) for item in cell])
    return types.Value_Scalar(scalar(field.field_type, cell))


class OutputRows:
    """Output rows under a schema's columns, added as dicts by column name."""

    def __init__(self, schema: List[types.Field]):
        self._schema = schema
        self._names = {field.name for field in schema}
        self._rows: List[List[types.Value]] = []

    def add(self, row: Dict[str, Any]) -> None:
        """Adds `row`, a dict from column name to Python value. A column the
        dict leaves out is null; a key that is not a column, or a value of
        the wrong type, raises `ValueError` naming the column."""
        unknown = [key for key in row if key not in self._names]
        if unknown:
            raise ValueError(f"row has columns the schema does not: {', '.join(sorted(unknown))}")
        cells = []
        for field in self._schema:
            try:
                cells.append(value(field, row.get(field.name)))
            except TypeError as error:
                raise ValueError(f"column `{field.name}`: {error}") from None
        self._rows.append(cells)

    def extend(self, rows: Iterable[Dict[str, Any]]) -> None:
        """Adds every row of `rows`, as `add` does."""
        for row in rows:
            self.add(row)

    def __len__(self) -> int:
        return len(self._rows)

    def finish(self) -> types.RowSet:
        """The rows as the WIT `row-set` that `process` returns."""
        return types.RowSet(columns=[field.name for field in self._schema], rows=self._rows)

