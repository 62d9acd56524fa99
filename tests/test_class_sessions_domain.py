"""The class-session rules without a database: when an approval is in force, and what a
request refuses (domain/class_sessions.py, domain/definitions.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.class_sessions import ClassSessionRequest, RequestStatus, SessionKind
from domain.common import RuleViolation
from domain.definitions import approval_in_force
from domain.facilities import Cohort, Facility, FacilityKind

DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 1))


@given(DAYS, DAYS, st.none() | DAYS)
def test_an_approval_is_in_force_from_its_day_until_the_revocation(
    day: date, approved: date, revoked: date | None
) -> None:
    expected = approved <= day and (revoked is None or day < revoked)
    assert approval_in_force(day, approved, revoked) is expected
    assert approval_in_force(day, None, revoked) is False


def cohort(code: str = "C1") -> Cohort:
    fci = Facility.register("FCI-A", "FCI Alpha", FacilityKind.BOP_INSTITUTION)
    return Cohort.start(code, "", fci, date(2025, 9, 1))


def refused(code: str, call: object, *args: object, **kw: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kw)  # type: ignore[operator]
    assert caught.value.code == code


def test_a_request_is_decided_once_and_revoked_only_when_approved() -> None:
    request = ClassSessionRequest.request(
        cohort(), [SessionKind.GRADUATE_SPEAKER], "", date(2026, 11, 2)
    )
    assert request.kinds == [SessionKind.GRADUATE_SPEAKER]
    refused(
        "class_session_not_approved",
        request.check_allows,
        SessionKind.GRADUATE_SPEAKER,
        {"C1"},
        date(2026, 11, 10),
    )
    refused(
        "not_approved", request.revoke, revoked_by="x", revoked_on=date(2026, 11, 3), reason="x"
    )
    refused("decided_by_required", request.approve, approved_by=" ", approved_on=date(2026, 11, 3))
    request.approve(approved_by="Warden", approved_on=date(2026, 11, 5))
    assert request.status is RequestStatus.APPROVED
    refused("already_decided", request.deny, denied_by="W", denied_on=date(2026, 11, 6), reason="x")
    request.check_allows(SessionKind.GRADUATE_SPEAKER, {"C1"}, date(2026, 11, 5))
    refused(
        "approval_for_other_cohort",
        request.check_allows,
        SessionKind.GRADUATE_SPEAKER,
        {"C1", "C2"},
        date(2026, 11, 10),
    )
    refused(
        "session_kind_not_approved",
        request.check_allows,
        SessionKind.CLASS_SESSION,
        {"C1"},
        date(2026, 11, 10),
    )
    # Said in words, as the console shows it: no kind's value.
    with pytest.raises(RuleViolation) as caught:
        request.check_allows(SessionKind.CLASS_SESSION, {"C1"}, date(2026, 11, 10))
    assert caught.value.detail == "the facility approved graduate speaker, not class session"
    request.revoke(revoked_by="Warden", revoked_on=date(2026, 11, 17), reason="lockdown")
    request.check_allows(SessionKind.GRADUATE_SPEAKER, {"C1"}, date(2026, 11, 16))
    refused(
        "class_session_revoked",
        request.check_allows,
        SessionKind.GRADUATE_SPEAKER,
        set(),
        date(2026, 11, 17),
    )


def test_a_request_names_class_kinds_of_a_cohort_still_in_class() -> None:
    refused(
        "invalid_session_kinds", ClassSessionRequest.request, cohort(), [], "", date(2026, 1, 1)
    )
    refused(
        "invalid_session_kinds",
        ClassSessionRequest.request,
        cohort(),
        [SessionKind.MENTORING],
        "",
        date(2026, 1, 1),
    )
    graduated = cohort("C0")
    graduated.graduate(date(2026, 6, 1))
    refused(
        "cohort_graduated",
        ClassSessionRequest.request,
        graduated,
        [SessionKind.CLASS_SESSION],
        "",
        date(2026, 7, 1),
    )
    denied = ClassSessionRequest.request(
        cohort(), [SessionKind.CLASS_SESSION], "", date(2026, 11, 2)
    )
    refused("before_request", denied.deny, denied_by="W", denied_on=date(2026, 11, 1), reason="x")
    denied.deny(denied_by="W", denied_on=date(2026, 11, 2) + timedelta(days=1), reason="no room")
    refused(
        "class_session_denied",
        denied.check_allows,
        SessionKind.CLASS_SESSION,
        {"C1"},
        date(2026, 11, 10),
    )
