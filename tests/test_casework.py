"""Case-management contacts (POST …/participants/{id}/case-contacts) and referral connections
are participation-level services (domain/definitions.py): they keep a participant from a derived
90-day exit, set its exit date when they are the last service, and move the `exit_approaching`
warning, in the report, the PIRL file, the caseload and the alerts alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers
from tests.test_report_rules import alerts, drill, figures, pirl, positions


@pytest.fixture
def api(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Api:
    frozen_at(datetime(2027, 1, 12, 15, 0, tzinfo=UTC), tick=True)
    return Api(client, auth, grantee, db)


def events(api: Api) -> int:
    return len(api.db.fetchall(f'SELECT 1 FROM "g_{api.slug}".events'))


def test_a_case_contact_is_recorded_and_bad_ones_leave_the_log_unchanged(api: Api) -> None:
    (grad,), _ = graduates_and_newcomers(api, 1, 0)
    out = api.post(
        f"/participants/{grad}/case-contacts", {"contacted_on": "2026-08-20", "mode": "phone"}
    )
    assert (out["participant_id"], out["contacted_on"], out["mode"]) == (
        grad,
        "2026-08-20",
        "phone",
    )
    assert positions(api, grad, "CaseManagementContact") == [out["position"]]
    before = events(api)
    path = f"/participants/{grad}/case-contacts"
    for body, status, code in (
        ({"contacted_on": "2027-03-01"}, 422, "in_future"),
        ({"contacted_on": "2026-01-15"}, 422, "contact_before_entry"),
        ({"contacted_on": "2026-08-20", "mode": "carrier_pigeon"}, 400, None),
        ({"contacted_on": "2026-08-20", "note": "no text here"}, 400, None),
    ):
        problem = api.post(path, body, status=status)
        assert code is None or problem["code"] == code
    missing = "/participants/00000000-0000-4000-8000-000000000000/case-contacts"
    assert api.post(missing, {"contacted_on": "2026-08-20"}, status=404)["code"] == "not_found"
    api.post(path, {"contacted_on": "2026-08-20"}, role="peer_mentor", status=403)
    api.post(path, {"contacted_on": "2026-08-20"}, role="federal_oversight", status=403)
    assert events(api) == before


def test_case_contacts_are_listed_by_their_day_newest_first_whatever_order_recorded(
    api: Api,
) -> None:
    """Decision 146: recorded out of order (a contact dated 1 September, then one dated
    31 August), the list reads by the contact's day, newest first; two on one day, the later
    recorded first. The history keeps the record order."""
    (grad,), _ = graduates_and_newcomers(api, 1, 0)
    path = f"/participants/{grad}/case-contacts"
    recorded = [
        api.post(path, {"contacted_on": on, "mode": mode})
        for on, mode in (
            ("2026-09-04", "phone"),
            ("2026-08-21", "in_person"),
            ("2026-09-01", "phone"),
            ("2026-08-31", "video"),
            ("2026-09-01", "video"),
        )
    ]
    listed = api.get(path)
    assert listed["participant_id"] == grad
    assert [(c["contacted_on"], c["mode"]) for c in listed["items"]] == [
        ("2026-09-04", "phone"),
        ("2026-09-01", "video"),
        ("2026-09-01", "phone"),
        ("2026-08-31", "video"),
        ("2026-08-21", "in_person"),
    ]
    by_position = {r["position"]: r["contacted_on"] for r in recorded}
    assert [by_position[c["position"]] for c in listed["items"]] == [
        c["contacted_on"] for c in listed["items"]
    ]
    assert {c["recorded_by"] for c in listed["items"]} == {"test-coordinator"}
    assert listed["next_cursor"] is None
    assert api.get(path, role="case_manager") == listed
    # Pages of two on (day, position): of two contacts recorded between two pages, the one
    # dated after the first page's end belongs to the first page, the other comes in its place
    # on a later one; none is shown twice or skipped.
    first = api.get(path, limit=2)
    assert [c["contacted_on"] for c in first["items"]] == ["2026-09-04", "2026-09-01"]
    api.post(path, {"contacted_on": "2026-09-02", "mode": "phone"})
    api.post(path, {"contacted_on": "2026-08-25", "mode": "phone"})
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = api.get(path, limit=2, cursor=cursor)
        rest += [(c["contacted_on"], c["mode"]) for c in page["items"]]
        cursor = page["next_cursor"]
    assert rest == [
        ("2026-09-01", "phone"),
        ("2026-08-31", "video"),
        ("2026-08-25", "phone"),
        ("2026-08-21", "in_person"),
    ]
    for bad in ("x", "2026-13-01.5", "2026-09-01", first["next_cursor"] + "x"):
        r = api.client.get(api.base + path, params={"cursor": bad}, headers=api.headers())
        assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor"), bad
    denied = api.client.get(api.base + path, headers=api.headers("federal_oversight"))
    assert denied.status_code == 403
    missing = "/participants/00000000-0000-4000-8000-000000000000/case-contacts"
    gone = api.client.get(api.base + missing, headers=api.headers())
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")


def test_case_contacts_and_referral_connections_are_services(api: Api) -> None:
    # Three graduates (classes ended 2026-06-01): one met by a case manager on 08-20, one
    # connected to a resource on 08-25, one with neither. On 09-30 only the third has gone 90
    # days without service; in 2026Q4 the other two exit on their last service's day.
    (contacted, referred, idle), _ = graduates_and_newcomers(api, 3, 0)
    contact = api.post(f"/participants/{contacted}/case-contacts", {"contacted_on": "2026-08-20"})
    resource = api.post(
        "/resources",
        {"name": "Second Chance Staffing", "category": "job_placement", "description": "jobs"},
    )["id"]
    referral = api.post(
        "/referrals",
        {
            "participant_id": referred,
            "resource_id": resource,
            "need": "steady work",
            "made_at": "2026-08-10T15:00:00Z",
        },
    )["id"]
    api.post(f"/referrals/{referral}/connection", {"connected_on": "2026-08-25"})
    q3, q4 = figures(api, "2026Q3"), figures(api, "2026Q4")
    assert (q3["exits.derived_90_day"], q4["exits.derived_90_day"]) == (1, 2)
    units = drill(api, "2026Q4", "exits.derived_90_day")["units"]
    connected = positions(api, referral, "Referral.Connected")
    assert units == sorted(
        [
            sorted([contact["position"], *positions(api, contacted, "Enrolled")]),
            sorted([*connected, *positions(api, referred, "Enrolled")]),
        ]
    )
    rows = pirl(api, "2026Q3")
    assert (rows[contacted]["901"], rows[referred]["901"], rows[idle]["901"]) == (
        "",
        "",
        "20260601",
    )
    assert (pirl(api, "2026Q4")[contacted]["901"], pirl(api, "2026Q4")[referred]["901"]) == (
        "20260820",
        "20260825",
    )
    projector.drain(api.db, f"g_{api.slug}")
    caseload = {r["id"]: r for r in api.get("/participants", limit=100)["items"]}
    assert caseload[contacted]["exit_date"] == "2026-08-20"
    assert caseload[referred]["exit_date"] == "2026-08-25"


def test_a_case_contact_moves_the_exit_warning(
    client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt
) -> None:
    clock = frozen_at(datetime(2026, 8, 5, 15, 0, tzinfo=UTC), tick=True)
    api = Api(client, auth, grantee, db)
    (grad,), _ = graduates_and_newcomers(api, 1, 0)
    # Day 65 after the graduation: warned, naming 08-31.
    (alert,) = alerts(api)
    assert "takes effect on 2026-08-31" in alert["detail"]
    # A contact today restarts the clock: no warning until day 60 after it (10-04).
    api.post(f"/participants/{grad}/case-contacts", {"contacted_on": "2026-08-05"})
    assert alerts(api) == []
    clock.set(datetime(2026, 10, 5, 15, 0, tzinfo=UTC))
    (alert,) = alerts(api)
    assert "takes effect on 2026-11-04" in alert["detail"]
    assert "exit date 2026-08-05" in alert["detail"]
