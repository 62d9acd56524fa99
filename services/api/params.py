"""Parameter and field types shared by the API modules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import Parameter

from domain.daterange import YEAR_PATTERN
from services.api.dates import check_parameter
from services.api.problems import ProblemError
from services.api.text import FreeText

# A facility or cohort code.
Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9-]{1,15}$", examples=["FCI-ELK"])]
# Free text of a note, summary or comment.
LongText = Annotated[FreeText, msgspec.Meta(max_length=4000)]

# Every list's page size: 1 to 500, 100 unless asked. The audit stream (events at most, up to
# 10 000) and a report figure's rows (up to 5 000) are the two lists that take more: each is
# read whole by a machine, not paged. Documented in docs/api.md, "Lists: filters, search, sort, pages".
LIMIT_DEFAULT = 100
LIMIT_MAX = 500
Limit = Annotated[int, Parameter(ge=1, le=LIMIT_MAX, description="page size")]
# The largest log position (bigint): a query parameter beyond it is refused, not compared.
MAX_POSITION = 2**63 - 1
Cursor = Annotated[str, Parameter(max_length=64, description="`next_cursor` of the previous page")]
# The cursor of a list that may be sorted (`sort`): a sorted page's cursor also carries the
# sort value of the page's last row.
SortCursor = Annotated[
    str, Parameter(max_length=400, description="`next_cursor` of the previous page")
]
# A list's search: a name (case- and accents-insensitive, its words in any order, each by a
# word's prefix or one letter off a whole word), a program number or a BOP register number (by
# prefix). Text that folds to nothing is no search. The same on every server (decision 133).
# Without a `sort`, what it finds comes closest first (decision 141).
SearchText = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=100,
        description="find by name (its words in any order, each a word's prefix or, from four"
        " letters on, a whole word with one letter wrong, missing, extra or swapped after the"
        " first; case and accents ignored), program number or register number (by prefix);"
        " only spaces or accents: no search. Without `sort` the closest come first: an exact"
        " number, then whole words, then prefixes, then one letter off (decision 141)",
    ),
]


# Whose participants: a staff member's token subject, or `me` (the caller).
AssignedTo = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=200,
        description="only participants whose case manager or coordinator is this token"
        " subject (`me`: the caller)",
    ),
]


def me(caller: str, assigned_to: str | None) -> str | None:
    """The subject an `assigned_to` names (`me`: the `caller`'s own)."""
    return caller if assigned_to == "me" else assigned_to


def sort_description(columns: Iterable[str]) -> str:
    """The description of a list's `sort` parameter."""
    return "order by one of: " + ", ".join(sorted(columns)) + " (a leading '-' for descending)"


# The cursor of a list paged by id: empty, or the id that ended the previous page. Declared,
# not enforced here: the list answers anything else with 400 `invalid_cursor`.
UuidCursor = Annotated[
    str,
    Parameter(
        max_length=36,
        description="`next_cursor` of the previous page (an id)",
        schema_extra={
            "pattern": "^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
        },
    ),
]
# An instant, RFC 3339 with its UTC offset: declared, and read by `instant`, which
# answers anything else with 400 `invalid_instant`.
INSTANT_SCHEMA = {
    "format": "date-time",
    "pattern": (
        f"^{YEAR_PATTERN}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}"
        r"(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    ),
}
MinPosition = Annotated[
    int | None,
    Parameter(
        ge=0,
        le=MAX_POSITION,
        description="wait (bounded) until the views have applied this log position",
        # Litestar leaves a bound of 0 out of the schema of an optional parameter.
        schema_extra={"minimum": 0},
    ),
]
# Where keyset pages over uuid keys start.
FIRST_UUID = "00000000-0000-0000-0000-000000000000"

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_UNENCODED_PLUS = re.compile(r"(?<=[0-9]) ([0-9]{2}:[0-9]{2})$")
_INSTANT_DOC = "an RFC 3339 date-time with a UTC offset, e.g. 2026-06-01T12:00:00Z"


def instant(value: str, name: str) -> datetime:
    """An RFC 3339 date-time with its offset; anything else (a naive time included) is a 400.
    A `+` sent unencoded in a query string arrives as a space: read back as `+`."""
    value = _UNENCODED_PLUS.sub(r"+\1", value)
    match = _RFC3339.fullmatch(value)
    if match is not None and match["offset"] is None:
        raise ProblemError(
            400, "invalid_instant", f"{name} must carry a UTC offset (Z or ±hh:mm): {_INSTANT_DOC}"
        )
    try:
        if match is None:
            raise ValueError(value)
        moment = datetime.fromisoformat(value.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise ProblemError(400, "invalid_instant", f"{name} is not {_INSTANT_DOC}") from None
    return check_parameter(moment, name)
