"""The time zone of a grantee's log, for readers that know only its schema (the projector, the
webhook outbox, a report's replay): they decode its plain days in it (decision 95).

A grantee's zone is set when it is registered and never changes, so it is looked up once per
schema and process. A schema that is no registered grantee's (the platform's own log) has
none: its events are read as stored.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.schema import PLATFORM_SCHEMA

_PREFIX = "g_"
_known: dict[str, ZoneInfo] = {}


def zone_of(cur: Cursor[TupleRow], schema: str) -> ZoneInfo | None:
    """The time zone of the grantee whose log is `schema`; None when it is no grantee's."""
    found = _known.get(schema)
    if found is not None or not schema.startswith(_PREFIX):
        return found
    cur.execute(
        sql.SQL("SELECT time_zone FROM {}.grantees WHERE slug = %s").format(
            sql.Identifier(PLATFORM_SCHEMA)
        ),
        (schema.removeprefix(_PREFIX),),
    )
    row = cur.fetchone()
    if row is None:
        return None
    zone = _known[schema] = ZoneInfo(str(row[0]))
    return zone
