"""What the views share for `Participant.Erased` (crypto-shredding, docs/privacy.md).

Each view that holds a participant's personal fields handles the event by overwriting its
copies with the erased placeholder, exactly as a rebuild would produce them: a non-empty
value becomes `[erased]`, an empty one stays empty (empty fields are never encrypted), so the
live view and a rebuild after the erasure agree row for row. Handlers write it as the row
operation `projections.ops.Erase(ERASED)`.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic
from psycopg import sql

from domain.common import ProwdAggregate
from domain.pairings import Pairing
from domain.participants import ERASED_NAME
from projections.ops import Writer

ERASED = ERASED_NAME

# Keys of a JSON detail (the timeline) whose text may describe the participant.
TEXT_KEYS = frozenset(
    {
        "note",
        "summary",
        "statement",
        "measure",
        "target",
        "reason",
        "evidence",
        "description",
        "need",
        "comment",
        "criteria_note",
        "post_closure_contact",
        "confidential_note",
        "employer",
        "job_title",
        "resolution",
    }
)


def scrub(doc: Any) -> Any:
    """A JSON document with every non-empty text under `TEXT_KEYS` erased, at any depth."""
    if isinstance(doc, dict):
        return {
            k: (ERASED if k in TEXT_KEYS and isinstance(v, str) and v else scrub(v))
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [scrub(v) for v in doc]
    return doc


def individual_pairings(schema: str) -> sql.Composed:
    """The ids of the individual pairings opened for a participant (`%(pid)s`) up to a log
    position (`%(pos)s`), from the log itself: a view keeps no membership of its own."""
    return sql.SQL(
        "SELECT originator_id FROM {}.events WHERE topic = {topic} AND notification_id <= %(pos)s"
        " AND convert_from(state, 'UTF8')::jsonb->>'kind' = 'individual'"
        " AND convert_from(state, 'UTF8')::jsonb->'members' = jsonb_build_array(%(pid)s::text)"
    ).format(sql.Identifier(schema), topic=sql.Literal(get_topic(Pairing.Opened)))


def log_schema(w: Writer, e: ProwdAggregate.Event) -> str:
    """The grantee's schema of the log an event came from (a replay builds its tables in
    `pg_temp`, so the writer's schema is not always it)."""
    return f"g_{e.grantee}" if e.grantee else w.schema
