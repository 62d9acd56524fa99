"""Residents a message may no longer name: their derived 90-day exit has taken effect.

The RRC's view leaves out a resident whose derived exit (more than 90 days without service,
none planned: decisions 85 and 97) has taken effect, and discloses nothing of them; what the
view hides a message must not send either (decision 101). The exit is judged as a delivery is
created (as the Part 2 consents are): on that day in the grantee's zone, from the oversight
view's facts (`projections.service.load_person`, as a command's check reads them). A
participant with a recorded exit is not among them: that exit is theirs, and the messages
about it are the recorded exit's.

Read only for a resident of an RRC that an enabled endpoint serves, once per participant and
batch, and only while the view has applied the event: the worker feeds the outbox after the
views' batch in the same transaction, so there it always has; an outbox ahead of the view (a
catch-up run on its own, in tests) judges nobody, as a command's check cannot see what the
view has not applied (decision 97).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Tables
from projections.service import load_person
from services.store.database import Database
from services.store.zones import zone_of

VIEW = "oversight"


@dataclass
class GoneNow:
    """Whether a participant's derived exit has taken effect on the batch's day."""

    cur: Cursor[TupleRow]
    db: Database
    schema: str
    now: datetime
    _view: tuple[int, int] | None = None
    _read: bool = False
    _gone: dict[UUID, bool] = field(default_factory=dict)

    def _oversight(self) -> tuple[int, int] | None:
        """The oversight view's live build and the position it has applied (None: no build)."""
        if not self._read:
            self._read = True
            self.cur.execute(
                sql.SQL(
                    "SELECT a.version, t.position FROM {s}.active_views a JOIN {s}.tracking t"
                    " ON t.view = a.view AND t.version = a.version WHERE a.view = %s"
                ).format(s=sql.Identifier(self.schema)),
                (VIEW,),
            )
            row = self.cur.fetchone()
            self._view = None if row is None else (int(row[0]), int(row[1]))
        return self._view

    def __call__(self, participant_id: UUID, position: int) -> bool:
        """True when the participant, without a recorded exit, has a derived exit in effect
        today; False too when the view has not applied the event at `position` yet."""
        view = self._oversight()
        if view is None or view[1] < position:
            return False
        if participant_id not in self._gone:
            zone = zone_of(self.cur, self.schema)
            if zone is None:
                return False
            person = load_person(self.db, Tables(self.schema, view[0]), zone, participant_id)
            self._gone[participant_id] = (
                person is not None
                and person.recorded_exit is None
                and person.derived_exit(self.now.astimezone(zone).date()) is not None
            )
        return self._gone[participant_id]
