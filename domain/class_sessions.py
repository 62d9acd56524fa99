"""Group mentoring as a class session, and graduates speaking to a new class (issue 21, point 8).

The peer-mentoring tip sheet: "grantees may also request to invite graduates from the first
cohort to speak to the new class or provide group mentoring as a class session". Stage-1
mentoring otherwise meets outside class hours (`during_class_hours`). A grantee asks the
facility for a cohort (`ClassSessionRequest.Requested`), records the facility's decision (who
decided at the facility, on which day: `Approved` or `Denied`) and, if the facility withdraws
it, the revocation. A group meeting recorded as a session of an approved kind, naming the
approval, may then take place in the cohort's class hours while the approval is in force
(`domain.definitions.approval_in_force`); each is counted in the oversight figures.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from domain.common import ProwdAggregate, RuleViolation, check_date_not_future, utcnow
from domain.definitions import approval_in_force
from domain.facilities import Cohort


class SessionKind(StrEnum):
    MENTORING = "mentoring"  # a pairing's own meeting (the default)
    CLASS_SESSION = "class_session"  # group mentoring held as a class session
    GRADUATE_SPEAKER = "graduate_speaker"  # graduates of an earlier cohort speak to the class


CLASS_KINDS = frozenset({SessionKind.CLASS_SESSION, SessionKind.GRADUATE_SPEAKER})


class RequestStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"


def _decided_by(text: str) -> str:
    if not text.strip():
        raise RuleViolation("who decided at the facility is required", code="decided_by_required")
    return text.strip()


def _reason(text: str) -> str:
    if not text.strip():
        raise RuleViolation("the facility's decision states its reason", code="reason_required")
    return text.strip()


class ClassSessionRequest(ProwdAggregate):
    """A request to a facility for class sessions with one cohort, and the facility's answer."""

    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        cohort_code: str
        facility_code: str
        kinds: list[SessionKind]
        note: str
        requested_on: date
        status: RequestStatus
        decided_by: str | None
        decided_on: date | None
        approved_on: date | None
        revoked_on: date | None

    class Requested(ProwdAggregate.Created):
        cohort_code: str
        facility_code: str
        kinds: list[SessionKind]
        note: str
        requested_on: date

        def apply(self, aggregate: Any) -> None:
            aggregate.cohort_code = self.cohort_code
            aggregate.facility_code = self.facility_code
            aggregate.kinds = list(self.kinds)
            aggregate.note = self.note
            aggregate.requested_on = self.requested_on
            aggregate.status = RequestStatus.REQUESTED
            aggregate.decided_by = None
            aggregate.decided_on = None
            aggregate.approved_on = None
            aggregate.revoked_on = None

    class Approved(ProwdAggregate.Event):
        """The facility approved: `approved_by` names who decided there (name and title),
        `approved_on` the day."""

        approved_by: str
        approved_on: date
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = RequestStatus.APPROVED
            aggregate.decided_by = self.approved_by
            aggregate.decided_on = self.approved_on
            aggregate.approved_on = self.approved_on

    class Denied(ProwdAggregate.Event):
        denied_by: str
        denied_on: date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = RequestStatus.DENIED
            aggregate.decided_by = self.denied_by
            aggregate.decided_on = self.denied_on

    class Revoked(ProwdAggregate.Event):
        """The facility withdrew its approval from `revoked_on` on."""

        revoked_by: str
        revoked_on: date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = RequestStatus.REVOKED
            aggregate.revoked_on = self.revoked_on

    @classmethod
    def request(
        cls, cohort: Cohort, kinds: list[SessionKind], note: str, requested_on: date
    ) -> ClassSessionRequest:
        """Ask the cohort's facility for class sessions of `kinds` (asked on `requested_on`:
        a letter sent before it is recorded)."""
        check_date_not_future(requested_on, "the day of the request")
        wanted = sorted(set(kinds))
        if not wanted or not set(wanted) <= CLASS_KINDS:
            raise RuleViolation(
                "name the kinds asked for: class_session and/or graduate_speaker",
                code="invalid_session_kinds",
            )
        if cohort.graduated_on is not None:
            raise RuleViolation(
                f"cohort {cohort.code} graduated on {cohort.graduated_on}: its classes are over",
                code="cohort_graduated",
            )
        request: ClassSessionRequest = cls._create(
            cls.Requested,
            id=uuid4(),
            cohort_code=cohort.code,
            facility_code=cohort.facility_code,
            kinds=wanted,
            note=note.strip(),
            requested_on=requested_on,
            occurred_at=utcnow(),
        )
        return request

    def _check_decision(self, by: str, on: date) -> str:
        if self.status is not RequestStatus.REQUESTED:
            raise RuleViolation(
                f"the facility's decision is recorded already ({self.status.value})",
                code="already_decided",
            )
        check_date_not_future(on, "the day of the facility's decision")
        if on < self.requested_on:
            raise RuleViolation(
                f"the request was made on {self.requested_on}: no decision before it",
                code="before_request",
            )
        return _decided_by(by)

    def approve(self, *, approved_by: str, approved_on: date, note: str = "") -> None:
        """Record the facility's approval: who approved there, and on which day."""
        by = self._check_decision(approved_by, approved_on)
        self.trigger_event(
            self.Approved,
            approved_by=by,
            approved_on=approved_on,
            note=note.strip(),
            occurred_at=utcnow(),
        )

    def deny(self, *, denied_by: str, denied_on: date, reason: str) -> None:
        """Record the facility's refusal, with who refused there, when and why."""
        by = self._check_decision(denied_by, denied_on)
        self.trigger_event(
            self.Denied,
            denied_by=by,
            denied_on=denied_on,
            reason=_reason(reason),
            occurred_at=utcnow(),
        )

    def revoke(self, *, revoked_by: str, revoked_on: date, reason: str) -> None:
        """Record that the facility withdrew its approval from `revoked_on` on."""
        if self.status is not RequestStatus.APPROVED or self.approved_on is None:
            raise RuleViolation(
                f"only an approval in force can be revoked; this request is {self.status.value}",
                code="not_approved",
            )
        check_date_not_future(revoked_on, "the day of the revocation")
        if revoked_on < self.approved_on:
            raise RuleViolation(
                f"the approval dates from {self.approved_on}: no revocation before it",
                code="before_approval",
            )
        self.trigger_event(
            self.Revoked,
            revoked_by=_decided_by(revoked_by),
            revoked_on=revoked_on,
            reason=_reason(reason),
            occurred_at=utcnow(),
        )

    def check_allows(self, kind: SessionKind, cohort_codes: set[str], day: date) -> None:
        """Refuse a session of `kind` on `day` with the members of `cohort_codes` (the stage-1
        members' cohorts) unless this approval covers it."""
        others = cohort_codes - {self.cohort_code}
        if others:
            raise RuleViolation(
                f"the approval is for cohort {self.cohort_code}, not for {', '.join(sorted(others))}",
                code="approval_for_other_cohort",
            )
        if self.status is RequestStatus.DENIED:
            raise RuleViolation(
                f"the facility denied this request on {self.decided_on}",
                code="class_session_denied",
            )
        if self.revoked_on is not None and day >= self.revoked_on:
            raise RuleViolation(
                f"the facility revoked its approval from {self.revoked_on}",
                code="class_session_revoked",
            )
        if not approval_in_force(day, self.approved_on, self.revoked_on):
            raise RuleViolation(
                "the facility has not approved class sessions for this cohort on that day",
                code="class_session_not_approved",
            )
        if kind not in self.kinds:
            raise RuleViolation(
                f"the facility approved {', '.join(k.value.replace('_', ' ') for k in self.kinds)},"
                f" not {kind.value.replace('_', ' ')}",
                code="session_kind_not_approved",
            )
