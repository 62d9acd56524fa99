"""The dates and instants the program takes in: 1900-01-01 to 2200-12-31.

Python's calendar ends at years 1 and 9999. A value near either end breaks the arithmetic every
part of the program does on dates: shifting an instant into the grantee's zone (up to ±14 h),
naming its ISO week, adding a cadence window, a retention period or a report's quarter. Rather
than make each of those total, every date or date-time that enters (request bodies, query
parameters, import files, command-line options) must lie in this range, far from both ends and
wide enough for every real fact of the program: the birth dates of living people, and plans,
expiries and retention periods decades ahead. An instant is compared in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
_FIRST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
_END_INSTANT = datetime(2201, 1, 1, tzinfo=UTC)
RANGE = f"{EARLIEST.isoformat()} to {LATEST.isoformat()}"
# The years of the range, as the OpenAPI document declares them (a date's or date-time's prefix).
YEAR_PATTERN = "(19[0-9]{2}|2[01][0-9]{2}|2200)"


def in_range(value: date) -> bool:
    """Whether `value` (a date, or a date-time: with its offset compared in UTC, without one
    read as UTC) lies in the accepted range."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            return _FIRST_INSTANT <= moment < _END_INSTANT
        except OverflowError:  # an offset that carries it past year 1 or 9999
            return False
    return EARLIEST <= value <= LATEST


def out_of_range(name: str, value: date) -> str:
    """The sentence that refuses `value` of the input `name`."""
    return f"{name} = {value.isoformat()} lies outside the accepted dates, {RANGE}"
