"""Use cases: what a grantee shares with a Residential Reentry Center about its residents.

Residents and the record of their meetings come from the RRC view (projections/rrc.py), which
holds only what may be shared. A Part 2-tagged summary never enters the view: it is released
here, from the log, only when every resident it concerns has a consent in force naming this
RRC for meeting summaries (42 CFR Part 2), and then with the §2.32 notice. What RRC staff are
shown is a disclosure, logged one row per resident (services/audit/disclosure.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec

from domain import clock
from domain.common import NotFound
from domain.facilities import FacilityKind
from projections.base import Tables
from projections.rrc import MeetingRecordRow, cursor_after, meeting_records, resident_ids
from services.app.derived_exits import DerivedExits
from services.app.facilities import Facilities
from services.app.meetings import Meetings
from services.audit.disclosure import PART2_NOTICE, covering_consent, record_disclosure
from services.refusals import shown
from services.store.ledger import LedgerApplication


class PlaceOut(msgspec.Struct):
    kind: str
    facility: str | None


class MeetingRecordOut(msgspec.Struct):
    meeting_id: UUID
    occurred_at: datetime
    duration_minutes: int
    location: PlaceOut
    # The residents of this RRC the meeting was with, and their attendance when recorded.
    residents: list[UUID]
    attendance: dict[str, str]
    summary: str | None
    # True when the summary is tagged Part 2 and not every resident it concerns has a consent
    # in force for this RRC: it is not shared.
    summary_withheld: bool
    # Set when a Part 2-tagged summary is shared under consent: the §2.32 notice that must
    # accompany it.
    part2_notice: str | None = None


class SharedRecords(msgspec.Struct):
    """A page of meeting records as shared, the consent that released each resident's Part
    2-tagged summaries in it, and the next page's cursor if there is one."""

    items: list[MeetingRecordOut]
    released: dict[UUID, UUID]
    next_cursor: str | None


@dataclass
class RrcSharing:
    ledger: LedgerApplication
    facilities: Facilities
    meetings: Meetings
    derived_exits: DerivedExits

    def gone(self, t: Tables, rrc: str) -> set[UUID]:
        """Residents placed at the RRC whose derived exit has taken effect: they have exited
        and leave the view as a recorded exit does (decision 97)."""
        return self.derived_exits.among(resident_ids(self.ledger.db, t, rrc))

    def check_rrc(self, code: str) -> None:
        """The grantee has a Residential Reentry Center with this code, else not found."""
        try:
            facility = self.facilities.facility(code)
        except NotFound:
            raise NotFound(f"no RRC {shown(code)}") from None
        if facility.kind is not FacilityKind.RRC:
            raise NotFound(f"no RRC {shown(code)}")

    def meeting_records(
        self,
        t: Tables,
        rrc: str,
        *,
        after: tuple[datetime, UUID],
        since: datetime,
        until: datetime,
        participant_id: UUID | None,
        limit: int,
    ) -> SharedRecords:
        """A page of the meeting records of the RRC's current residents as they may be shared
        now: a Part 2-tagged summary is released only under every resident's consent."""
        rows = meeting_records(
            self.ledger.db,
            t,
            rrc,
            after=after,
            since=since,
            until=until,
            participant_id=participant_id,
            limit=limit + 1,
            gone=self.gone(t, rrc),
        )
        now = clock.now()
        released: dict[UUID, UUID] = {}
        items = [self._shared(row, f"rrc:{rrc}", now, released) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit and items else None
        nxt = cursor_after(last.occurred_at, last.meeting_id) if last else None
        return SharedRecords(items, released, nxt)

    def _shared(
        self, row: MeetingRecordRow, recipient: str, now: datetime, released: dict[UUID, UUID]
    ) -> MeetingRecordOut:
        summary, withheld, notice = row.summary, row.part2_withheld, None
        if withheld:
            grants = [
                covering_consent(self.ledger.db, self.ledger.schema, r, recipient, now)
                for r in row.residents
            ]
            if row.residents and all(g is not None for g in grants):
                record = self.meetings.meeting(row.meeting_id).record
                summary, withheld, notice = (
                    (record.summary if record else None),
                    False,
                    PART2_NOTICE,
                )
                released.update(
                    (r, g.consent_id) for r, g in zip(row.residents, grants, strict=True) if g
                )
        ids = {str(r) for r in row.residents}
        return MeetingRecordOut(
            row.meeting_id,
            row.occurred_at,
            row.duration_minutes,
            PlaceOut(row.location_kind, row.facility_code),
            list(row.residents),
            {k: v for k, v in row.attendance.items() if k in ids},
            summary,
            withheld,
            notice,
        )

    def record_disclosures(
        self,
        recipient: str,
        residents: set[UUID],
        information: str,
        *,
        part2: dict[UUID, UUID],
        reference: str,
        actor: str,
    ) -> None:
        """Log what the recipient was shown: a row per resident, and a Part 2 row per resident
        whose tagged summary was released under their consent (`part2`: resident → consent)."""
        if not residents:
            return
        now = clock.now()
        # Every resident shown, then a Part 2 row under the consent that released a summary.
        rows: list[tuple[UUID, str, UUID | None]] = [
            (r, information, None) for r in sorted(residents)
        ]
        rows += [(r, "meeting_summaries", consent) for r, consent in sorted(part2.items())]
        with self.ledger.db.transaction() as cur:
            for resident, what, consent_id in rows:
                record_disclosure(
                    cur,
                    self.ledger.schema,
                    participant_id=resident,
                    recipient=recipient,
                    channel="rrc_view",
                    information=what,
                    part2=consent_id is not None,
                    consent_id=consent_id,
                    reference=reference,
                    at=now,
                    actor=actor,
                )
