"""The derived 90-day exit as a command sees it (decisions 85 and 97).

A participant with more than 90 days without service and none planned has exited, though no
exit is recorded: the caseload, the participant's page and the reports say so. The commands a
recorded exit refuses are refused alike once the derived exit has taken effect on the
command's day (the grantee's calendar). The services are the oversight view's facts, read as
the participant's page reads them (`projections.service.load_people`, kept per position), so a
command refuses exactly whom the page shows exited.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain import clock
from domain import definitions as rules
from domain.participants import Participant, Status
from projections.service import Person, load_people, load_person
from services.projector.serving import live_tables, one_lookup, view_position
from services.refusals import Refused
from services.store.ledger import LedgerApplication

# The date of a participant's derived exit when it had taken effect on a day (None: today),
# else None.
DerivedExitOf = Callable[[Participant, date | None], date | None]


# Within `remembering`: each participant's facts as read once (the command's check and the
# participant shown in its answer read the same).
_memo: ContextVar[dict[UUID, Person | None] | None] = ContextVar("prowd_derived", default=None)


@dataclass
class DerivedExits:
    ledger: LedgerApplication

    def _people(self) -> dict[UUID, Person]:
        db, schema, zone = self.ledger.db, self.ledger.schema, self.ledger.zone
        with one_lookup():
            try:
                t = live_tables(db, schema, "oversight", None, 0)
            except Refused:
                # The view is not built yet: no services are known, none is derived.
                return {}
            return load_people(db, t, zone, position=view_position(db, schema, "oversight"))

    @contextlib.contextmanager
    def remembering(self) -> Iterator[None]:
        """Within (one request): a participant's facts are read once, for the command's check
        and for the participant shown in its answer (the view does not move between them as
        far as the request can tell: it lags the log either way)."""
        token = _memo.set({})
        try:
            yield
        finally:
            _memo.reset(token)

    def _person(self, participant_id: UUID) -> Person | None:
        """One participant's services, read alone (the rest of the grantee is not read)."""
        memo = _memo.get()
        if memo is not None and participant_id in memo:
            return memo[participant_id]
        db, schema, zone = self.ledger.db, self.ledger.schema, self.ledger.zone
        try:
            person = load_person(
                db, live_tables(db, schema, "oversight", None, 0), zone, participant_id
            )
        except Refused:
            person = None
        if memo is not None:
            memo[participant_id] = person
        return person

    def exit_on(self, participant: Participant, on: date | None = None) -> date | None:
        """The derived exit's date (their last service) when it has taken effect today; None
        for a participant with a recorded exit (that exit is theirs) or none derived."""
        if participant.status is not Status.ACTIVE:
            return None
        # A fact dated before the exit took effect (a move in April recorded in December) is
        # history within the enrolment: the exit is judged as of the fact's day.
        today = on or clock.today(self.ledger.zone)
        # The entry is a service: no exit can hold until more than 90 days after it, so a
        # participant entered since needs no read of the grantee's services (an enrolment's
        # answer, most commands of a new caseload).
        if rules.exit_takes_effect(participant.program_entry_date) > today:
            return None
        person = self._person(participant.id)
        derived = None if person is None else person.derived_exit(today)
        return None if derived is None else derived[0]

    def in_effect(self) -> dict[UUID, date]:
        """Every participant without a recorded exit whose derived exit has taken effect
        today, with its date (their last service). The grantee's services are read once per
        view position (`load_people` keeps them)."""
        today = clock.today(self.ledger.zone)
        out = {}
        for pid, person in self._people().items():
            if person.recorded_exit is None and (found := person.derived_exit(today)):
                out[pid] = found[0]
        return out

    def among(self, participant_ids: Iterable[UUID]) -> set[UUID]:
        """Those of `participant_ids` without a recorded exit whose derived exit has taken
        effect today."""
        people, today = self._people(), clock.today(self.ledger.zone)
        return {
            pid
            for pid in participant_ids
            if (person := people.get(pid)) is not None
            and person.recorded_exit is None
            and person.derived_exit(today) is not None
        }
