"""A participant's accounting of disclosures: the rows of the disclosure log about them.

The log is written by every disclosure path (services/audit/disclosure.py); this reads it, one
participant at a time, oldest first.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

import msgspec
from psycopg import sql

from projections.query import InvalidCursor, Reader
from projections.rows import select, typed

_DIGITS = re.compile(r"[0-9]{1,18}")


class DisclosureOut(msgspec.Struct):
    id: int
    recipient: str
    channel: str
    information: str
    part2: bool
    consent_id: UUID | None
    reference: str
    disclosed_at: datetime
    actor: str


DISCLOSURE = select(DisclosureOut, id="disclosure_id")


def disclosures_of(
    db: Reader, schema: str, participant_id: UUID, *, after: str, limit: int
) -> tuple[list[DisclosureOut], str | None]:
    """The participant's disclosures after the cursor `after` (a disclosure id, or empty for
    the first page), oldest first, and the cursor of the next page if there is one."""
    if after and _DIGITS.fullmatch(after) is None:
        raise InvalidCursor("the cursor is not one this list handed out")
    rows = db.fetchall(
        sql.SQL(
            "SELECT " + DISCLOSURE.sql + " FROM {}.disclosures"
            " WHERE participant_id = %s AND disclosure_id > %s"
            " ORDER BY disclosure_id LIMIT %s"
        ).format(sql.Identifier(schema)),
        (participant_id, int(after) if after else 0, limit + 1),
    )
    items = typed(DisclosureOut, DISCLOSURE, rows[:limit])
    return items, str(items[-1].id) if len(rows) > limit and items else None
