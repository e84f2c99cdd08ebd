"""Reading declared tables through the host, and column batches decoded
into plain Python lists: text cut at its UTF-8 byte offsets, DATE columns
as `datetime.date`, nulls as `None`."""

import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from componentize_py_types import Err
from wit_world.imports import host, types

from . import dates

DateLike = Union[datetime.date, types.Date]


class ReadFailed(Exception):
    """A read the host refused: the read error's case (`undeclared-table`,
    `unknown-table`, `invalid-range`, `limit-exceeded`, `storage`) and its
    message. Uncaught, it fails the run with a `process-error`, never a trap
    (`unknown-table` as `missing-data`, the rest as `internal`)."""

    def __init__(self, case: str, message: str):
        super().__init__(f"{case}: {message}")
        self.case = case
        self.message = message


_READ_CASES = {
    host.ReadError_UndeclaredTable: "undeclared-table",
    host.ReadError_UnknownTable: "unknown-table",
    host.ReadError_InvalidRange: "invalid-range",
    host.ReadError_LimitExceeded: "limit-exceeded",
    host.ReadError_Storage: "storage",
}


def table(name: str) -> types.TableRef:
    """`dataset.table` as a WIT table reference; raises `ValueError` for a
    name without exactly one dot."""
    parts = name.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"table name {name!r} is not dataset.table")
    return types.TableRef(dataset=parts[0], table=parts[1])


def _wit_date(date: DateLike) -> types.Date:
    return dates.to_wit(date) if isinstance(date, datetime.date) else date


def _read(call, *args):
    try:
        return call(*args)
    except Err as error:
        case = _READ_CASES.get(type(error.value), "storage")
        raise ReadFailed(case, error.value.value) from None


def read_columns(name: str, start: DateLike, end: DateLike, columns: Sequence[str]) -> List[Dict[str, Any]]:
    """The named `columns` of declared table `name` from `start` to `end`
    (both inclusive) as one dict per row. For many rows prefer
    `read_column_batch`, which crosses the boundary in a few copies."""
    batch = read_column_batch(name, start, end, columns)
    return list(batch.rows())


def read_column_batch(name: str, start: DateLike, end: DateLike, columns: Sequence[str]) -> "Batch":
    """The named `columns` of declared table `name` from `start` to `end`
    (both inclusive), packed by column. Raises `ReadFailed`."""
    packed = _read(host.read_column_batch, table(name), _wit_date(start), _wit_date(end), list(columns))
    return Batch(packed)


def read_coded_column_batch(
    name: str, start: DateLike, end: DateLike, columns: Sequence[str], coded: Sequence[str]
) -> "Batch":
    """Like `read_column_batch`, with the STRING columns named in `coded`
    coded (contract 0.1.1): `Batch.codes(name)` is each row's index into
    `Batch.dictionary(name)`, so rows group by int; `Batch.column(name)`
    still gives the texts. Raises `ReadFailed`."""
    packed = _read(
        host.read_coded_column_batch, table(name), _wit_date(start), _wit_date(end), list(columns), list(coded)
    )
    return Batch(packed.batch, packed.coded)


class Batch:
    """A column batch, each column decoded once into a Python list; coded
    columns also as their codes and dictionary."""

    def __init__(self, packed: types.ColumnBatch, coded: Sequence[types.CodedColumn] = ()):
        self._packed = {column.name: column for column in packed.columns}
        self._coded = {column.name: column for column in coded}
        self._decoded: Dict[str, List[Any]] = {}
        self.names = [column.name for column in packed.columns] + [
            column.name for column in coded if column.name not in self._packed
        ]
        self.row_count = packed.row_count

    def __len__(self) -> int:
        return self.row_count

    def column(self, name: str) -> List[Any]:
        """Column `name`, one Python value per row (`None` when null).
        Raises `KeyError` naming the column and the ones the batch holds."""
        if name not in self._decoded:
            packed = self._packed.get(name)
            if packed is not None:
                self._decoded[name] = decode_column(packed, self.row_count)
            else:
                texts = self.dictionary(name)
                self._decoded[name] = [None if code is None else texts[code] for code in self.codes(name)]
        return self._decoded[name]

    def _coded_column(self, name: str) -> types.CodedColumn:
        coded = self._coded.get(name)
        if coded is None:
            raise KeyError(f"the batch has no column `{name}` coded (it has {', '.join(self.names)})")
        return coded

    def codes(self, name: str) -> List[Optional[int]]:
        """Coded column `name`: each row's index into its dictionary
        (`None` when null). Two rows have the same text exactly when they
        have the same code."""
        coded = self._coded_column(name)
        if len(coded.codes) != self.row_count:
            raise ValueError(f"column `{name}` holds {len(coded.codes)} codes for {self.row_count} rows")
        codes: List[Optional[int]] = list(coded.codes)
        nulls = coded.nulls
        if nulls:
            for row in range(self.row_count):
                if nulls[row >> 3] & (1 << (row & 7)):
                    codes[row] = None
        return codes

    def dictionary(self, name: str) -> List[str]:
        """Coded column `name`'s texts, in code order; it may hold texts no
        row of this batch has."""
        return decode_text(self._coded_column(name).dictionary)

    def columns(self, *names: str) -> List[List[Any]]:
        """Several columns at once, in the order named."""
        return [self.column(name) for name in names]

    def rows(self) -> Iterator[Dict[str, Any]]:
        """Each row as a dict from column name to value."""
        decoded = [(name, self.column(name)) for name in self.names]
        for row in range(self.row_count):
            yield {name: values[row] for name, values in decoded}


def decode_text(packed: types.PackedText) -> List[str]:
    """The rows of packed text: `ends` are UTF-8 byte offsets into `text`,
    which arrives as a Python `str`. ASCII text (the usual case) is cut as
    it is; other text is cut as bytes and decoded row by row."""
    text, ends = packed.text, packed.ends
    if text.isascii():
        source = text
    else:
        source = text.encode("utf-8")
    rows = []
    start = 0
    for end in ends:
        rows.append(source[start:end])
        start = end
    if source is not text:
        rows = [cell.decode("utf-8") for cell in rows]
    return rows


def _scalar(cell: types.Scalar) -> Any:
    if isinstance(cell, types.Scalar_Date):
        return dates.from_wit(cell.value)
    return cell.value


def _from_value(cell: types.Value) -> Any:
    if isinstance(cell, types.Value_Null):
        return None
    if isinstance(cell, types.Value_Repeated):
        return [_scalar(item) for item in cell.value]
    return _scalar(cell.value)


def decode_column(column: types.Column, row_count: int) -> List[Any]:
    """One column of a batch as a list of Python values: text as `str`,
    DATE as `datetime.date`, TIMESTAMP as microseconds, NUMERIC as its
    decimal text, null rows (bit `i % 8` of byte `i / 8` of `nulls`) as
    `None`."""
    packed = column.values
    if isinstance(packed, (types.ColumnValues_String, types.ColumnValues_Numeric, types.ColumnValues_Json)):
        values: List[Any] = decode_text(packed.value)
    elif isinstance(packed, types.ColumnValues_Date):
        values = [dates.from_days(day) for day in packed.value]
    elif isinstance(packed, types.ColumnValues_Values):
        values = [_from_value(cell) for cell in packed.value]
    else:
        values = list(packed.value)
    if len(values) != row_count:
        raise ValueError(f"column `{column.name}` holds {len(values)} values for {row_count} rows")
    nulls = column.nulls
    if nulls:
        for row in range(row_count):
            if nulls[row >> 3] & (1 << (row & 7)):
                values[row] = None
    return values
