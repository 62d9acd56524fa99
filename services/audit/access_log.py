"""The access log: who was shown personal data, when, in what capacity (DESIGN D7).

One row per successful response of an action that carries personal data (the role matrix's
`personal_data`), whatever its method: a command's response carries the record it changed, so a
POST is a disclosure as much as a GET. A command's row is written by the statement that
appends its events (`side_effect`, services/api/context.py); reads' rows by `record`, from the
middleware (services/api/audit_access.py), before the response leaves. Reads of the access log
itself are recorded too, so an auditor's looking is as accountable as anyone's. Rows live in the grantee's own schema
(`g_<slug>.access_log`, services/store/schema.py) and are append-only by the same trigger as the event
log: no UPDATE, DELETE or TRUNCATE, whoever asks.

Stored: the token's subject, the roles under which the matrix allowed the action, the action,
the method, the path, the ids the request named (path parameters and uuid-valued query
parameters, never other query text, which may hold search terms), the request id and the
status. Never stored: bodies, tokens, names or other personal fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import psycopg
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock
from services.identity.access import MATRIX
from services.store.database import Database
from services.store.eventstore import Insert, SideEffect

# Actions recorded although their responses carry no personal data.
ALSO_RECORDED = frozenset({"audit.access_log"})


def recorded(action: str | None) -> bool:
    """Whether a successful response of `action` leaves a row in the access log."""
    if action is None or action not in MATRIX:
        return False
    return MATRIX[action].personal_data or action in ALSO_RECORDED


@dataclass(frozen=True)
class Access:
    subject: str
    roles: list[str]
    action: str
    method: str
    path: str
    resources: Mapping[str, str]
    request_id: str
    status: int


def named_ids(path_params: Mapping[str, Any], query_string: bytes) -> dict[str, str]:
    """The ids a request named: its path parameters (but the grantee) and its uuid-valued query
    parameters; other query text is never kept (it may hold search terms about a person)."""
    named = {k: str(v) for k, v in path_params.items() if k != "grantee"}
    for key, value in parse_qsl(query_string.decode("latin-1")):
        try:
            named.setdefault(key, str(uuid.UUID(value)))
        except ValueError:
            continue
    return named


def record(db: Database, schema: str, access: Access) -> None:
    """Append one row (one statement in its own transaction, on a pooled connection)."""
    with db.connection() as conn, conn.cursor() as cur:
        insert(cur, schema, access)


_INSERT = (
    "INSERT INTO {}.access_log (at, subject, roles, action, method, path, resources,"
    " request_id, status) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
)


def _values(access: Access) -> tuple[Any, ...]:
    return (
        clock.now(),
        access.subject,
        access.roles,
        access.action,
        access.method,
        access.path,
        msgspec.json.encode(dict(access.resources)).decode(),
        access.request_id,
        access.status,
    )


def insert(cur: Cursor[TupleRow], schema: str, access: Access) -> None:
    """Append one row on `cur` (inside a read's transaction, at no extra commit)."""
    cur.execute(sql.SQL(_INSERT).format(sql.Identifier(schema)), _values(access))


class Unavailable(Exception):
    """The access log could not take a read's row (the read's answer is withheld); the
    database error's class is the message."""


def insert_read(cur: Cursor[TupleRow], schema: str, access: Access) -> None:
    """`insert` for a read inside its transaction; `Unavailable` when the row cannot be written."""
    try:
        insert(cur, schema, access)
    except psycopg.Error as e:
        raise Unavailable(type(e).__name__) from e


def side_effect(schema: str, access: Access, *, then: Callable[[], None]) -> SideEffect:
    """The row as a side effect of a command's save: written by the statement that appends
    its events (no extra round trip), then, once committed, `then`."""
    statement = _INSERT.format(sql.Identifier(schema).as_string())
    return Insert(statement, _values(access), then)


class Entry(msgspec.Struct):
    id: int
    at: datetime
    subject: str
    roles: list[str]
    action: str
    method: str
    path: str
    resources: dict[str, str]
    request_id: str
    status: int


def entries(
    db: Database,
    schema: str,
    *,
    after: int,
    limit: int,
    before: int | None = None,
    newest_first: bool = False,
    subject: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    participant_id: str | None = None,
) -> tuple[list[Entry], int | None]:
    """Rows with `after` < id < `before`, filtered, in id order (greatest first when
    `newest_first`); the last row's id if there are more, the cursor of the next page (`after`
    in id order, `before` newest first)."""
    clauses: list[sql.Composable] = [sql.SQL("id > %s")]
    params: list[Any] = [after]
    for clause, value in (
        ("id < %s", before),
        ("subject = %s", subject),
        ("action = %s", action),
        ("at >= %s", since),
        ("at < %s", until),
        ("resources ->> 'participant_id' = %s", participant_id),
    ):
        if value is not None:
            clauses.append(sql.SQL(clause))
            params.append(value)
    rows = db.fetchall(
        sql.SQL(
            "SELECT id, at, subject, roles, action, method, path, resources, request_id, status"
            " FROM {}.access_log WHERE {} ORDER BY id {} LIMIT %s"
        ).format(
            sql.Identifier(schema),
            sql.SQL(" AND ").join(clauses),
            sql.SQL("DESC" if newest_first else "ASC"),
        ),
        [*params, limit + 1],
    )
    more = len(rows) > limit
    items = [
        Entry(
            id=int(r[0]),
            at=r[1],
            subject=r[2],
            roles=list(r[3]),
            action=r[4],
            method=r[5],
            path=r[6],
            resources={str(k): str(v) for k, v in dict(r[7]).items()},
            request_id=r[8],
            status=int(r[9]),
        )
        for r in rows[:limit]
    ]
    return items, (items[-1].id if more and items else None)
