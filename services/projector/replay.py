"""Replay as of an instant: every view rebuilt from the events recorded at or before it.

`prowd replay --grantee SLUG --as-of T` answers "what did the views hold at T?" from the log
alone. Each view is built into a temporary table of this session (`pg_temp`: never switched
live, invisible to other sessions, dropped afterwards) by the same engine as a rebuild
(the log folded into in-memory rows, each table written once with COPY), and its digest
(`Projection.digest`, as `prowd projections digest` prints it) is taken at the end.

Which events: the log is read in position order and replay stops before the first event whose
recorded `timestamp` (the store's time of the event, not `occurred_at`, the time it happened in
the world) is after T. The state is therefore always a prefix of the log, as the live views
are; a command's timestamp is taken just before it is appended, so an event stamped a moment
before T but appended after a later-stamped one is left out with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.daterange import RANGE, in_range
from projections.base import Projection
from projections.registry import PROJECTIONS
from services.projector.fold import Engine, temporary_tables
from services.projector.live import log_head
from services.store.database import Database

# RFC 3339 date-time: full date, "T" (or a space), time with optional fraction, and an offset.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 date-time with its offset, e.g. `2026-03-01T09:00:00Z` or
    `2026-03-01T04:00:00.250-05:00`. Raises ValueError with a readable reason."""
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        raise ValueError("expected an RFC 3339 date-time with an offset, e.g. 2026-03-01T09:00:00Z")
    day, clock, fraction, offset = m.groups()
    fraction = f".{(fraction or '0')[:6]:0<6}"
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
    except ValueError as e:
        raise ValueError(f"not a valid date-time: {e}") from None
    if not in_range(moment):
        raise ValueError(f"lies outside the accepted dates, {RANGE}")
    return moment


@dataclass(frozen=True)
class Replay:
    as_of: datetime
    events: int  # events replayed (positions 1..position)
    position: int  # the last position at or before `as_of` (0: none)
    digests: dict[str, str]


def replay(
    db: Database,
    schema: str,
    as_of: datetime,
    *,
    projections: tuple[Projection, ...] = PROJECTIONS,
    progress: Callable[[int, int], None] | None = None,
) -> Replay:
    """Build every view from the events recorded at or before `as_of` into temporary tables
    and return their digests; nothing of the grantee's live views changes."""
    if as_of.tzinfo is None:
        raise ValueError("as_of needs an offset")
    with db.connection() as conn:
        builds = [(p, temporary_tables()) for p in projections]
        try:
            with conn.transaction(), conn.cursor() as cur:
                for p, t in builds:
                    p.drop(cur, t)  # an earlier replay's, on this pooled connection
                    p.create(cur, t, keys=False)  # the engine adds them after its COPY
                head = log_head(cur, schema)
            engine = Engine(conn, schema, builds, track=False, decode_all=True)
            position = engine.run(after=0, total=head, until_time=as_of, progress=progress)
            with conn.transaction(), conn.cursor() as cur:
                engine.write(cur)
                digests = {p.name: p.digest(cur, t) for p, t in builds}
            return Replay(as_of, engine.applied, position, digests)
        finally:
            with conn.transaction(), conn.cursor() as cur:
                for p, t in builds:
                    p.drop(cur, t)
