"""Records retention (2 CFR 200.334: three years from the final expenditure report) and legal
holds, which keep records past retention and block the erasure of the participants they cover."""

from __future__ import annotations

import argparse
import io
import json
import uuid
from datetime import UTC, date, datetime

import pytest

from domain import clock
from domain.common import RuleViolation
from domain.grantees import Grantee, grantee_id, years_after
from services.cli.main import parser
from services.cli.records import cmd_retention

# The grantees here were registered in 2019, so that final reports of past years are possible.
REGISTERED = datetime(2019, 6, 3, 15, tzinfo=UTC)


@pytest.fixture
def make_old_grantee(make_grantee, frozen_at):
    """`make_grantee()`, registered on 3 June 2019; the clock goes on from where it was."""

    def make() -> str:
        now = clock.now()
        frozen_at(REGISTERED, tick=True)
        try:
            return make_grantee()
        finally:
            frozen_at(now, tick=True)

    return make


@pytest.fixture
def grantee(make_old_grantee) -> str:
    return make_old_grantee()


def platform_events(db) -> int:
    row = db.fetchone("SELECT count(*) FROM prowd.events")
    return int(row[0])


def test_retention_runs_three_years_from_the_final_report(client, auth, grantee):
    admin = auth("grantee_admin", grantee)
    r = client.get(f"/v1/grantees/{grantee}/retention", headers=admin)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["retention_ends_on"]) == ("not_set", None)

    r = client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2025-09-30"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["retention_ends_on"] == "2028-09-30"
    assert body["status"] == "retaining"  # today is before 2028-09-30
    assert body["position"] > 0

    r = client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2021-03-31"},
        headers=admin,
    )
    assert (r.json()["retention_ends_on"], r.json()["status"]) == ("2024-03-31", "due")


def test_a_final_report_before_the_grantee_was_registered_is_refused(client, auth, grantee, db):
    admin = auth("grantee_admin", grantee)
    before = platform_events(db)
    r = client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2019-06-02"},
        headers=admin,
    )
    assert (r.status_code, r.json()["code"]) == (422, "date_before_registration"), r.text
    assert "2019-06-03" in r.json()["detail"]
    assert platform_events(db) == before
    r = client.get(f"/v1/grantees/{grantee}/retention", headers=admin)
    assert (r.json()["status"], r.json()["retention_ends_on"]) == ("not_set", None)
    r = client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2019-06-03"},
        headers=admin,
    )
    assert (r.status_code, r.json()["retention_ends_on"]) == (200, "2022-06-03"), r.text


def test_a_leap_day_report_ends_on_the_28th():
    assert years_after(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert years_after(date(2024, 3, 1), 3) == date(2027, 3, 1)


def test_invalid_retention_changes_nothing(client, auth, grantee, db):
    admin = auth("grantee_admin", grantee)
    before = platform_events(db)
    r = client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2100-01-01"},
        headers=admin,
    )
    assert (r.status_code, r.json()["code"]) == (422, "date_in_future")
    for bad in ({"final_expenditure_report_on": "yesterday"}, {}, {"x": 1}):
        r = client.put(f"/v1/grantees/{grantee}/retention", json=bad, headers=admin)
        assert r.status_code == 400, (bad, r.text)
    assert platform_events(db) == before


def test_a_grantee_wide_hold_keeps_due_records_and_its_release_makes_them_due(
    client, auth, grantee
):
    admin = auth("grantee_admin", grantee)
    client.put(
        f"/v1/grantees/{grantee}/retention",
        json={"final_expenditure_report_on": "2020-06-30"},
        headers=admin,
    )
    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds",
        json={"reason": "OIG audit 2027-014"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "held"
    [hold] = r.json()["legal_holds"]
    assert hold["reason"] == "OIG audit 2027-014" and hold["participant_id"] is None
    assert hold["placed_by"] == "test-grantee_admin"

    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds/{hold['hold_id']}/release",
        json={"reason": "audit closed"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["legal_holds"]) == ("due", [])
    # Released once, it is no longer in force.
    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds/{hold['hold_id']}/release",
        json={"reason": "again"},
        headers=admin,
    )
    assert (r.status_code, r.json()["code"]) == (404, "legal_hold_not_found")


def test_a_participant_hold_blocks_that_participants_erasure_only(
    client, auth, grantee, enrol, app
):
    held = enrol(first_name="Held")
    free = enrol(first_name="Free", last_name="Other")
    admin = auth("grantee_admin", grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds",
        json={"reason": "claim by the participant", "participant_id": held["id"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "not_set"  # a participant's hold does not hold the grantee
    record: Grantee = app.state.tenancy.platform.ledger.load(
        Grantee, grantee_id(grantee), "grantee"
    )
    with pytest.raises(RuleViolation) as refused:
        record.check_erasable(uuid.UUID(held["id"]))
    assert refused.value.code == "legal_hold"
    record.check_erasable(uuid.UUID(free["id"]))  # not covered: no error

    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds",
        json={"reason": "x", "participant_id": str(uuid.uuid4())},
        headers=admin,
    )
    assert r.status_code == 404


def test_roles_and_tenancy(client, auth, grantee, make_old_grantee):
    url = f"/v1/grantees/{grantee}/retention"
    body = {"final_expenditure_report_on": "2024-01-01"}
    assert client.put(url, json=body, headers=auth("coordinator", grantee)).status_code == 403
    assert client.get(url, headers=auth("auditor", grantee)).status_code == 200
    assert client.get(url, headers=auth("case_manager", grantee)).status_code == 403
    other = make_old_grantee()
    assert client.put(url, json=body, headers=auth("grantee_admin", other)).status_code == 404
    assert client.put(url, json=body, headers=auth("platform_admin")).status_code == 200
    r = client.post(
        f"/v1/grantees/{grantee}/legal-holds",
        json={"reason": "x"},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 403


def test_the_report_lists_what_is_due(client, auth, make_old_grantee, settings, monkeypatch):
    due, kept = make_old_grantee(), make_old_grantee()
    for slug, day in ((due, "2019-12-31"), (kept, "2026-01-15")):
        r = client.put(
            f"/v1/grantees/{slug}/retention",
            json={"final_expenditure_report_on": day},
            headers=auth("platform_admin"),
        )
        assert r.status_code == 200
    r = client.get("/v1/retention?status=due", headers=auth("platform_admin"))
    assert r.status_code == 200
    slugs = {item["grantee"] for item in r.json()["items"]}
    assert due in slugs and kept not in slugs
    assert (
        client.get("/v1/retention?status=soon", headers=auth("platform_admin")).status_code == 400
    )
    assert client.get("/v1/retention", headers=auth("grantee_admin", due)).status_code == 403

    monkeypatch.setenv("PROWD_DATABASE_URL", settings.database_url)
    from services.settings import Settings

    out = io.StringIO()
    args = parser().parse_args(["retention", "report"])
    assert cmd_retention(args, Settings.from_env(), out) == 0
    text = out.getvalue()
    line = next(x for x in text.splitlines() if x.startswith(due))
    assert "2019-12-31" in line and "2022-12-31" in line and " due " in line
    assert "due for disposal" in text.splitlines()[-1]

    out = io.StringIO()
    args = argparse.Namespace(action="report", status="due", json=True)
    assert cmd_retention(args, Settings.from_env(), out) == 0
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert {r["status"] for r in rows} == {"due"}
    assert due in {r["slug"] for r in rows} and kept not in {r["slug"] for r in rows}
    # An empty status is no status the help offers: refused as any other unknown one.
    with pytest.raises(SystemExit) as refused:
        parser().parse_args(["retention", "report", "--status", ""])
    assert refused.value.code == 2
