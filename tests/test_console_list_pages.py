"""The console's lists follow the API's pages to the end (plain HTTP against PostgreSQL): a list
longer than the API's largest page (500) shows every row, not the first page alone
(`services/api/console/backend.py read_all`)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.console_helpers import sign_in
from tests.people import birth_date

MANY = 501


def batch(client: TestClient[Litestar], auth: Any, grantee: str, items: list[Any]) -> None:
    for at in range(0, len(items), 200):
        r = client.post(
            f"/v1/grantees/{grantee}/commands",
            json={"items": items[at : at + 200]},
            headers=auth("coordinator", grantee),
        )
        assert r.status_code == 200, r.text
        assert {x["status"] for x in r.json()["items"]} == {201}, r.text[:2000]


def test_the_mentors_page_lists_every_mentor(browser, client, auth, grantee, db):
    mentor = {
        "source": "community_peer",
        "channel": "community_organization",
        "expected_hours_per_month": 6,
    }
    items = [
        {
            "kind": "mentor.register",
            "idempotency_key": f"m-{i}",
            "body": {**mentor, "display_name": f"Mentor {i:03d}"},
        }
        for i in range(MANY)
    ]
    batch(client, auth, grantee, items)
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    page = browser.get("/console/mentors").text
    assert page.count('<td data-label="Mentor">') == MANY
    assert "Mentor 000" in page and f"Mentor {MANY - 1:03d}" in page


def test_the_rrc_page_lists_every_resident(browser, client, auth, grantee, db):
    items: list[Any] = []
    for i in range(MANY):
        enrol = {
            "first_name": "Res",
            "last_name": f"Ident{i:03d}",
            "date_of_birth": birth_date(),
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        move = {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-11-20T15:00:00Z",
        }
        items += [
            {
                "kind": "participant.enrol",
                "idempotency_key": f"e-{i}",
                "ref": f"p{i}",
                "body": enrol,
            },
            {
                "kind": "participant.stage_transition",
                "idempotency_key": f"s-{i}",
                "target": f"$ref:p{i}",
                "body": move,
            },
        ]
    # A participant's enrolment and move in the same batch (a `$ref` names an earlier item).
    batch(client, auth, grantee, items)
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "rrc_staff", grantee, rrc="RRC-1")
    page = browser.get("/console/rrc").text
    assert page.count('<td data-label="Number">') == MANY
    assert "Showing the first" not in page
