"""Events a view cannot take as they are: made storable or isolated, and reported (decision 30).

One event must never stop a view. Two rules hold on the live path, in a rebuild and in a
replay alike, so that all of them give the same rows:

1. Text PostgreSQL cannot hold. `text` and `jsonb` refuse NUL (U+0000); an event stored before
   the API refused it (decision 30) carries it for ever. When the projector reads such an event
   (`storable`), every NUL in its strings (personal fields, once decrypted, included) becomes
   U+FFFD, the replacement character, before any view sees it: the record is projected, and each
   view that handles the event records a fault `unstorable_text` naming the fields.
2. A write PostgreSQL refuses for the event's content (a data exception, SQLSTATE class 22:
   `CONTENT_ERRORS`) is isolated: the view's writes for that event are undone (a
   savepoint), the view records a fault `write_failed` with the error's class and SQLSTATE, and
   goes on with the next event. Other views, events and grantees are not held up.

Faults live beside the views, in `projection_faults` of the grantee's schema, by view and build
(a rebuild records its own; the rows of a dropped build go with it). They name the event
(position, topic, the record's id) and never carry personal data: field paths, error classes
and SQLSTATEs, no values. The operator is told three ways: an alert `projection_fault` on
`GET …/alerts`, the metric `prowd_projection_faults` and a log line `projection_fault`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables

log = structlog.get_logger("prowd.projector")

NUL = "\x00"
REPLACEMENT = "\ufffd"
# What the stored state of an event that may hold a NUL contains: its JSON escape, or ciphertext
# (a personal field, whose text is seen only once decrypted).
_NUL_ESCAPE = b"\\u0000"
_ENCRYPTED = b'"enc":1'

UNSTORABLE_TEXT = "unstorable_text"
WRITE_FAILED = "write_failed"
# What PostgreSQL answers when a value of the event cannot be written to a view (a data
# exception, SQLSTATE class 22), and what psycopg raises for a value it cannot send (NUL in
# text). Not an integrity violation (class 23): that depends on the view's rows, not on the
# event, and the batch fails whole as before, to be retried.
CONTENT_ERRORS: tuple[type[Exception], ...] = (psycopg.DataError,)


@dataclass(frozen=True, slots=True)
class Fault:
    """One event one view could not take as it was."""

    view: str
    version: int
    position: int
    fault: str
    originator_id: UUID
    topic: str
    detail: str
    recorded_at: datetime


# -- rule 1: text a view can store -----------------------------------------------------------


def may_hold_nul(state: bytes) -> bool:
    """Whether a stored event must be looked through (most need not: a substring test)."""
    return _NUL_ESCAPE in state or _ENCRYPTED in state


def storable(event: Any) -> list[str]:
    """Replace every NUL in the event's strings with U+FFFD, in place (the projector's own copy
    of the event); the paths of the fields changed."""
    changed: list[str] = []
    values: dict[str, Any] = vars(event)
    for name, value in values.items():
        clean = _clean(value, name, changed)
        if clean is not value:
            values[name] = clean
    return changed


def _clean(value: Any, path: str, changed: list[str]) -> Any:
    """`value` with NUL replaced in every string it holds; `value` itself when it holds none."""
    if isinstance(value, str):
        if NUL not in value:
            return value
        changed.append(path)
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, msgspec.Struct):
        updates = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = _clean(old, f"{path}.{name}", changed)
            if new is not old:
                updates[name] = new
        return msgspec.structs.replace(value, **updates) if updates else value
    if isinstance(value, list | tuple):
        items = [_clean(v, f"{path}[]", changed) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        pairs = [
            (_clean(k, f"{path}.<key>", changed), _clean(v, f"{path}.*", changed))
            for k, v in value.items()
        ]
        if all(k is a and v is b for (k, v), (a, b) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    return value


def unstorable_detail(paths: list[str]) -> str:
    return f"NUL (U+0000) in {', '.join(sorted(set(paths)))}; projected as U+FFFD"


# -- rule 2: a write refused for the event's content -----------------------------------------


def write_failed_detail(error: Exception) -> str:
    """The error's class and SQLSTATE: PostgreSQL's message may quote the value."""
    state = getattr(error, "sqlstate", None)
    return f"{type(error).__name__}" + (f" (SQLSTATE {state})" if state else "")


# A batch: (view, its build, the position it had applied), and (position, topic, event) rows.
Views = list[tuple[Projection, int, int]]
Rows = list[tuple[int, str, Any]]


def apply_isolated(cur: Cursor[TupleRow], schema: str, views: Views, rows: Rows) -> list[Fault]:
    """Apply a batch that failed as a whole again, each event to each view in a savepoint of
    its own: what PostgreSQL refuses for the event's content is undone and becomes a fault."""
    faults = []
    for position, topic, event in rows:
        if event is None:
            continue
        for projection, build, tracked in views:
            if position <= tracked or topic not in projection.handlers:
                continue
            try:
                with cur.connection.transaction():
                    projection.apply(cur, Tables(schema, build), topic, event, position)
            except CONTENT_ERRORS as e:
                faults.append(
                    Fault(
                        projection.name,
                        build,
                        position,
                        WRITE_FAILED,
                        event.originator_id,
                        topic,
                        write_failed_detail(e),
                        event.timestamp,
                    )
                )
    return faults


def unstorable(
    views: Iterable[tuple[Projection, int, int]], rows: Rows, cleaned: dict[int, list[str]]
) -> list[Fault]:
    """The faults of the events whose text was made storable, for each view handling them."""
    faults = []
    for position, topic, event in rows:
        paths = cleaned.get(position)
        if paths is None or event is None:
            continue
        for projection, build, tracked in views:
            if position > tracked and topic in projection.handlers:
                faults.append(
                    Fault(
                        projection.name,
                        build,
                        position,
                        UNSTORABLE_TEXT,
                        event.originator_id,
                        topic,
                        unstorable_detail(paths),
                        event.timestamp,
                    )
                )
    return faults


# -- the table ------------------------------------------------------------------------------


def record(cur: Cursor[TupleRow], schema: str, faults: Iterable[Fault]) -> None:
    """Store faults (once: a retried batch records nothing twice) and log each new one."""
    rows = list(faults)
    if not rows:
        return
    cur.executemany(
        sql.SQL(
            "INSERT INTO {}.projection_faults (view, version, position, fault, originator_id,"
            " topic, detail, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING"
        ).format(sql.Identifier(schema)),
        [
            (
                f.view,
                f.version,
                f.position,
                f.fault,
                f.originator_id,
                f.topic,
                f.detail,
                f.recorded_at,
            )
            for f in rows
        ],
    )
    for f in rows:
        log.error(
            "projection_fault",
            schema=schema,
            view=f.view,
            build=f.version,
            position=f.position,
            fault=f.fault,
            topic=f.topic,
            detail=f.detail,
        )


def forget(cur: Cursor[TupleRow], schema: str, view: str, version: int) -> None:
    """The faults of a build that is dropped."""
    cur.execute(
        sql.SQL("DELETE FROM {}.projection_faults WHERE view = %s AND version = %s").format(
            sql.Identifier(schema)
        ),
        (view, version),
    )


def live(db: Any, schema: str) -> list[Fault]:
    """The faults of the builds being served, in log order."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT f.view, f.version, f.position, f.fault, f.originator_id, f.topic, f.detail,"
            " f.recorded_at FROM {s}.projection_faults f JOIN {s}.active_views a"
            " ON a.view = f.view AND a.version = f.version ORDER BY f.position, f.view, f.fault"
        ).format(s=sql.Identifier(schema))
    )
    return [Fault(*row) for row in rows]


def of_build(db: Any, schema: str, view: str, version: int) -> list[tuple[Any, ...]]:
    """A build's faults without its build number (to compare a rebuild with the live build)."""
    return db.fetchall(  # type: ignore[no-any-return]
        sql.SQL(
            "SELECT position, fault, originator_id, topic, detail, recorded_at"
            " FROM {}.projection_faults WHERE view = %s AND version = %s"
            " ORDER BY position, fault"
        ).format(sql.Identifier(schema)),
        (view, version),
    )


# Faults of each served view; `{s}` is the grantee's schema.
COUNTS = (
    "SELECT a.view, count(f.position) FROM {s}.active_views a"
    " LEFT JOIN {s}.projection_faults f ON f.view = a.view AND f.version = a.version"
    " GROUP BY a.view"
)


def counts(db: Any, schema: str) -> dict[str, int]:
    """Faults of each served view."""
    rows = db.fetchall(sql.SQL(COUNTS + " ORDER BY a.view").format(s=sql.Identifier(schema)))
    return {str(view): int(n) for view, n in rows}
