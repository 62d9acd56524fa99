"""Use cases for class sessions: a request to the facility for a cohort, the facility's
decision and revocation, and the check a held meeting of a class kind must pass
(domain/class_sessions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain import clock
from domain.class_sessions import CLASS_KINDS, ClassSessionRequest, SessionKind
from domain.common import NotFound, RuleViolation
from domain.facilities import Cohort
from domain.meetings import HeldRecord
from domain.mentors import Mentor, MentorSource
from domain.pairings import LocationKind, Pairing, PairingKind
from services.app.facilities import Facilities
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class ClassSessions:
    ledger: LedgerApplication
    facilities: Facilities

    def request(self, request_id: UUID) -> ClassSessionRequest:
        return self.ledger.load(ClassSessionRequest, request_id, "class-session request")

    def ask(
        self,
        command: Command,
        *,
        cohort_code: str,
        kinds: list[SessionKind],
        note: str,
        requested_on: date | None = None,
    ) -> Saved[ClassSessionRequest]:
        """Ask the cohort's facility for class sessions (group mentoring as a class session,
        graduate speakers) with that cohort, on `requested_on` (today if None)."""
        cohort = self.facilities.cohort(cohort_code)
        day = requested_on or clock.today(self.ledger.zone)
        request = ClassSessionRequest.request(cohort, kinds, note, day)
        return self.ledger.record(request, command, creates="class-session request")

    def decide(
        self,
        command: Command,
        request_id: UUID,
        *,
        approved: bool,
        decided_by: str,
        decided_on: date,
        note: str,
    ) -> Saved[ClassSessionRequest]:
        """Record the facility's decision: approved or denied, by whom there, on which day."""
        request = self.request(request_id)
        if approved:
            request.approve(approved_by=decided_by, approved_on=decided_on, note=note)
        else:
            request.deny(denied_by=decided_by, denied_on=decided_on, reason=note)
        return self.ledger.record(request, command)

    def revoke(
        self, command: Command, request_id: UUID, *, revoked_by: str, revoked_on: date, reason: str
    ) -> Saved[ClassSessionRequest]:
        """Record that the facility withdrew its approval from `revoked_on` on."""
        request = self.request(request_id)
        request.revoke(revoked_by=revoked_by, revoked_on=revoked_on, reason=reason)
        return self.ledger.record(request, command)

    def check_session(
        self, pairing: Pairing, mentor: Mentor, record: HeldRecord, cohorts: list[Cohort]
    ) -> None:
        """Refuse a held record of a class kind that its approval does not cover. `cohorts`
        are the cohorts of the pairing's stage-1 members."""
        if record.session not in CLASS_KINDS:
            if record.approval_id is not None:
                raise RuleViolation(
                    "an approval is named only by a class session or a graduate speakers' session",
                    code="approval_without_class_session",
                )
            return
        if pairing.kind is not PairingKind.GROUP:
            raise RuleViolation(
                "a class session is held by a group pairing", code="class_session_not_group"
            )
        if record.session is SessionKind.GRADUATE_SPEAKER and mentor.source is not (
            MentorSource.GRADUATE
        ):
            raise RuleViolation(
                "a graduate speaker session is held by a graduate mentor",
                code="speaker_not_a_graduate",
            )
        if record.approval_id is None:
            raise RuleViolation(
                "a class session names the facility's approval (`approval_id`)",
                code="class_session_not_approved",
            )
        try:
            approval = self.request(record.approval_id)
        except NotFound:
            raise RuleViolation(
                "no such class-session request in this grantee", code="class_session_not_approved"
            ) from None
        location = record.location
        if (
            location.kind is not LocationKind.BOP_INSTITUTION
            or location.facility_code != approval.facility_code
        ):
            raise RuleViolation(
                f"a class session takes place at the cohort's institution {approval.facility_code}",
                code="class_session_elsewhere",
            )
        day = record.occurred_at.astimezone(self.ledger.zone).date()
        approval.check_allows(record.session, {c.code for c in cohorts}, day)
