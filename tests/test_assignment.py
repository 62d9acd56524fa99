"""Assignment over HTTP with the real app and PostgreSQL: a case manager and a coordinator per
participant, reassignable, as events; `GET …/participants?assigned_to=me` and the alerts
filtered the same way; refusals with their rule codes; the access log's rows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mentoring_helpers import Api, graduates_and_newcomers


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def assign(api: Api, pid: str, duty: str, staff: str | None) -> dict[str, Any]:
    return dict(api.post(f"/participants/{pid}/assignments", {"duty": duty, "staff": staff}))


def ids(page: dict[str, Any]) -> list[str]:
    return [row["id"] for row in page["items"]]


def test_case_managers_are_assigned_reassigned_and_filter_the_caseload(api):
    a = api.enrol(first_name="Ada")
    b = api.enrol(first_name="Bea")
    c = api.enrol(first_name="Cy")
    out = assign(api, a, "case_manager", "cm-rita")
    assert (out["case_manager"], out.get("coordinator")) == ("cm-rita", None)
    assign(api, b, "case_manager", "cm-rita")
    assign(api, c, "coordinator", "cm-rita")
    assign(api, b, "case_manager", "cm-sam")  # reassigned

    rows = api.view("/participants", 0, role="case_manager", sub="cm-rita", assigned_to="me")
    assert sorted(ids(rows)) == sorted([a, c])
    by_row = {r["id"]: r for r in rows["items"]}
    assert (by_row[a]["case_manager"], by_row[c]["coordinator"]) == ("cm-rita", "cm-rita")
    assert ids(api.get("/participants", assigned_to="cm-sam")) == [b]
    assert len(ids(api.get("/participants"))) == 3  # without the filter, everyone

    # The history keeps every assignment, from whom to whom.
    events = api.get(f"/participants/{b}/history")["events"]
    moves = [e["data"] for e in events if e["type"] == "StaffAssigned"]
    assert [(m["staff"], m["previous"]) for m in moves] == [
        ("cm-rita", None),
        ("cm-sam", "cm-rita"),
    ]

    # Unassigned with null.
    assert "case_manager" not in assign(api, b, "case_manager", None)

    # The answer carries personal data: each assignment leaves an access-log row.
    rows = api.db.fetchall(
        f'SELECT count(*) FROM "g_{api.slug}".access_log WHERE action = %s',
        ("participants.assign",),
    )
    assert rows[0][0] == 5


def test_assignment_refusals(api):
    pid = api.enrol()
    assign(api, pid, "case_manager", "cm-rita")
    api.refused(
        f"/participants/{pid}/assignments",
        {"duty": "case_manager", "staff": "cm-rita"},
        "already_assigned",
    )
    r = api.client.post(
        f"{api.base}/participants/{pid}/assignments",
        json={"duty": "case_manager", "staff": "x"},
        headers=api.headers("peer_mentor", sub="gus"),
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = api.client.post(
        f"{api.base}/participants/{pid}/assignments",
        json={"duty": "janitor", "staff": "x"},
        headers=api.headers(),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


def test_alerts_are_filtered_by_assignment(api, app):
    from tests.test_goals_api import backdated_goal

    _, (mine, theirs) = graduates_and_newcomers(api, 1, 2)
    backdated_goal(app, api.slug, mine, 20, 5)
    backdated_goal(app, api.slug, theirs, 20, 5)
    assign(api, mine, "case_manager", "cm-rita")
    assign(api, theirs, "case_manager", "cm-sam")
    alerts = api.view("/alerts", 0, role="case_manager", sub="cm-rita", assigned_to="me")
    goals = [a for a in alerts["items"] if a["kind"] == "overdue_goal"]
    assert [a["participant_id"] for a in goals] == [mine]
    assert alerts["counts"]["overdue_goal"] == 1
    everyone = api.view("/alerts", 0)
    assert everyone["counts"]["overdue_goal"] == 2
