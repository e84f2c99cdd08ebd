"""Dates across the boundary: the WIT `date` record, `datetime.date`, and
day numbers (days since 1970-01-01, as a column batch packs DATE columns).
Nothing here touches the host."""

import datetime

from wit_world.imports import types

EPOCH = datetime.date(1970, 1, 1)
_EPOCH_ORDINAL = EPOCH.toordinal()


def from_wit(date: types.Date) -> datetime.date:
    """The WIT `date` as a `datetime.date`."""
    return datetime.date(date.year, date.month, date.day)


def to_wit(date: datetime.date) -> types.Date:
    """A `datetime.date` as the WIT `date`."""
    return types.Date(year=date.year, month=date.month, day=date.day)


def from_days(day: int) -> datetime.date:
    """Day number `day` (days since 1970-01-01) as a `datetime.date`."""
    return datetime.date.fromordinal(_EPOCH_ORDINAL + day)


def to_days(date: datetime.date) -> int:
    """A `datetime.date` as a day number (days since 1970-01-01)."""
    return date.toordinal() - _EPOCH_ORDINAL
