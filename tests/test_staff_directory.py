"""The staff directory over HTTP with the real app and PostgreSQL (decision 114): everyone ever
assigned as a case manager or coordinator, in subject order, with how many participants each
holds now per duty, through assignment, reassignment and unassignment (`staff: null`); its
pages and cursors; its refusals as problem+json; and the caseload's `assigned_to` after an
unassignment. The clock is the suite's, set to a stated instant (DESIGN D10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from services.projector import rebuilds
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api

# A Monday, 10:00 in Chicago.
NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
def api(client, auth, grantee, db, frozen_at: FreezeAt) -> Api:
    frozen_at(NOW, tick=True)
    return Api(client, auth, grantee, db)


def assign(api: Api, pid: str, duty: str, staff: str | None) -> dict[str, Any]:
    return dict(api.post(f"/participants/{pid}/assignments", {"duty": duty, "staff": staff}))


def directory(api: Api, **params: Any) -> list[tuple[str, int, int]]:
    page = api.view("/staff", api.events(), **params)
    return [(s["subject"], s["case_manager_of"], s["coordinator_of"]) for s in page["items"]]


def ids(page: dict[str, Any]) -> list[str]:
    return [row["id"] for row in page["items"]]


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status, body
    return body


def test_the_directory_counts_what_each_staff_member_holds_now(api):
    assert directory(api) == []
    a = api.enrol(first_name="Ada")
    b = api.enrol(first_name="Bea")
    c = api.enrol(first_name="Cy")
    assign(api, a, "case_manager", "cm-rita")
    assign(api, b, "case_manager", "cm-rita")
    assign(api, c, "coordinator", "cm-rita")
    assign(api, c, "case_manager", "cm-sam")
    assert directory(api) == [("cm-rita", 2, 1), ("cm-sam", 1, 0)]

    assign(api, b, "case_manager", "cm-sam")  # reassigned from rita
    assign(api, a, "coordinator", "co-ann")
    assert directory(api) == [("cm-rita", 1, 1), ("cm-sam", 2, 0), ("co-ann", 0, 1)]

    # Unassigned: nobody holds the duty; the once-assigned stay listed, holding nothing.
    out = assign(api, c, "coordinator", None)
    assert "coordinator" not in out and out["case_manager"] == "cm-sam"
    assign(api, a, "case_manager", None)
    assert directory(api) == [("cm-rita", 0, 0), ("cm-sam", 2, 0), ("co-ann", 0, 1)]

    # The counts are the participants `assigned_to` lists.
    projected = api.view("/participants", api.events(), assigned_to="cm-rita")
    assert ids(projected) == []
    assert sorted(ids(api.get("/participants", assigned_to="cm-sam"))) == sorted([b, c])
    # A rebuild from the log (in memory, COPY) makes the same rows as the live projector.
    schema = f"g_{api.slug}"
    live = projector.digests(api.db, schema)["assignments"]
    assert rebuilds.rebuild(api.db, schema, "assignments") == 2
    assert projector.digests(api.db, schema)["assignments"] == live
    assert directory(api) == [("cm-rita", 0, 0), ("cm-sam", 2, 0), ("co-ann", 0, 1)]
    # An auditor reads it too; a peer mentor may not.
    assert len(api.get("/staff", role="auditor")["items"]) == 3
    r = api.client.get(f"{api.base}/staff", headers=api.headers("peer_mentor", sub="gus"))
    problem(r, 403, "forbidden")


def test_unassigning_nobody_is_refused_and_the_caseload_shows_nobody(api):
    pid = api.enrol(first_name="Ada")
    api.refused(
        f"/participants/{pid}/assignments",
        {"duty": "case_manager", "staff": None},
        "already_assigned",
    )
    assign(api, pid, "case_manager", "cm-rita")
    mine = api.view(
        "/participants", api.events(), role="case_manager", sub="cm-rita", assigned_to="me"
    )
    assert ids(mine) == [pid]
    assign(api, pid, "case_manager", None)
    detail = api.refused(
        f"/participants/{pid}/assignments",
        {"duty": "case_manager", "staff": None},
        "already_assigned",
    )["detail"]
    assert "nobody" in detail
    mine = api.view(
        "/participants", api.events(), role="case_manager", sub="cm-rita", assigned_to="me"
    )
    assert ids(mine) == []
    row = api.get("/participants", q="Ada")["items"][0]
    assert row.get("case_manager") is None
    assert "case_manager" not in api.get(f"/participants/{pid}")


def test_the_directory_pages_in_subject_order(api):
    pids = [api.enrol(first_name=name) for name in ("Ada", "Bea", "Cy", "Dee", "Eve")]
    subjects = ["cm-e", "cm-a", "cm-d", "cm-c", "cm-b"]
    for pid, subject in zip(pids, subjects, strict=True):
        assign(api, pid, "case_manager", subject)
    position = api.events()
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = api.view("/staff", position, limit=2, cursor=cursor)
        pages += 1
        seen += [s["subject"] for s in page["items"]]
        assert len(page["items"]) <= 2
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(subjects) and pages == 3
    whole = api.get("/staff")
    assert len(whole["items"]) == 5 and whole["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_request"),
        ({"limit": 501}, "invalid_request"),
        ({"limit": "many"}, "invalid_request"),
        ({"cursor": "nobody-we-know"}, "invalid_cursor"),
        ({"cursor": "x" * 201}, "invalid_cursor"),
        ({"cursor": "cm-\x00"}, "invalid_parameter"),
        ({"min_position": -1}, "invalid_request"),
    ],
)
def test_bad_parameters_are_problems(api, params, code):
    pid = api.enrol(first_name="Ada")
    assign(api, pid, "case_manager", "cm-rita")
    api.view("/staff", api.events())
    r = api.client.get(f"{api.base}/staff", params=params, headers=api.headers())
    problem(r, 400, code)
