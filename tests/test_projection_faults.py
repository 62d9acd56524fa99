"""One event can never stop a view (docs/decisions.md 30).

Events are stored here through the application layer, as the API stored them before it refused
NUL (and, for a value a view column refuses, as no command can today): the projector goes on,
the live views and a rebuild agree, and the fault is reported (table, alert, metric, log)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from domain.common import utcnow
from domain.facilities import FacilityKind
from domain.goals import Goal
from domain.mentors import MentorSource, RecruitmentChannel
from domain.participants import PersonalDetails
from services.projector import faults as projection_faults
from services.projector import live as projector
from services.projector import rebuilds
from services.store.ledger import Command
from tests.conftest import count_events

REPLACED = "Ann\ufffdLee"


def caseload_names(db, schema: str) -> dict[str, str]:
    with db.transaction() as cur:
        build = projector.active_build(cur, schema, "caseload")
    rows = db.fetchall(f'SELECT number, first_name FROM "{schema}".caseload_b{build}')
    return {str(number): str(name) for number, name in rows}


def store_with_nul(app: Any, slug: str) -> dict[str, Any]:
    """What an earlier version accepted over HTTP: a NUL in a participant's first name (a
    personal field, encrypted in the log), a facility's name and a mentor's display name."""
    tenant = app.state.tenancy.app(slug)
    participant = tenant.participants.enroll_participant(
        Command(),
        personal=PersonalDetails(
            first_name="Ann\x00Lee", last_name="Lee", date_of_birth=date(1990, 4, 1)
        ),
        program_entry_date=date(2026, 2, 1),
        facility_code="FCI-A",
        cohort_code="C1",
        number="NUL1",
    )
    tenant.facilities.register_facility(
        Command(), code="FCI-N", name="FCI\x00N", kind=FacilityKind.RRC
    )
    mentor = tenant.mentors.register_mentor(
        Command(),
        display_name="Sam\x00",
        source=MentorSource.COMMUNITY_PEER,
        channel=RecruitmentChannel.STAFF_REFERRAL,
    )
    return {"participant": participant.aggregate.id, "mentor": mentor.aggregate.id}


def test_an_event_stored_with_a_nul_is_projected_and_reported(
    app, client, auth, db, grantee, enrol
):
    schema = f"g_{grantee}"
    before = enrol(first_name="Bea", number="BEFORE1")
    ids = store_with_nul(app, grantee)
    with capture_logs() as logs:
        # An enrolment catches the search view up first (its duplicate check): that view's
        # faults are logged then.
        after = enrol(first_name="Cal", number="AFTER1")
        projector.drain(db, schema)

    # The views went on: every participant is there, the one of the NUL with U+FFFD.
    assert caseload_names(db, schema) == {"BEFORE1": "Bea", "NUL1": REPLACED, "AFTER1": "Cal"}
    h = auth("coordinator", grantee)
    r = client.get(
        f"/v1/grantees/{grantee}/participants",
        params={"min_position": after["position"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert {p["first_name"] for p in r.json()["items"]} == {"Bea", REPLACED, "Cal"}
    r = client.get(f"/v1/grantees/{grantee}/facilities", headers=h)
    assert "FCI\ufffdN" in {f["name"] for f in r.json()["items"]}
    assert before["position"] < after["position"]

    # Each view that handles one of those events records a fault naming the fields, no value.
    faults = projection_faults.live(db, schema)
    assert {f.fault for f in faults} == {"unstorable_text"}
    by_record = {(f.view, f.originator_id): f for f in faults}
    enrolled = by_record[("caseload", ids["participant"])]
    assert "personal.first_name" in enrolled.detail and "Ann" not in enrolled.detail
    assert ("mentor_roster", ids["mentor"]) in by_record
    assert {f.view for f in faults} >= {"caseload", "directory", "mentor_roster", "timeline"}
    logged = [e for e in logs if e["event"] == "projection_fault"]
    assert {(e["view"], e["position"]) for e in logged} == {(f.view, f.position) for f in faults}
    assert all("Ann" not in str(e) for e in logged)

    # The operator is told: an alert for the grantee's admin and coordinator, a metric.
    alerts = client.get(f"/v1/grantees/{grantee}/alerts", headers=h).json()
    mine = [a for a in alerts["items"] if a["kind"] == "projection_fault"]
    assert alerts["counts"]["projection_fault"] == len(faults) == len(mine)
    assert {a["subject_id"] for a in mine} >= {str(ids["participant"]), str(ids["mentor"])}
    assert "Ann" not in str(mine)
    assert not [
        a
        for a in client.get(
            f"/v1/grantees/{grantee}/alerts", headers=auth("case_manager", grantee)
        ).json()["items"]
        if a["kind"] == "projection_fault"
    ]
    metrics = client.get("/metrics").text
    # The caseload handles the enrolment and the facility's registration.
    assert f'prowd_projection_faults{{grantee="{grantee}",view="caseload"}} 2' in metrics
    assert f'prowd_projection_faults{{grantee="{grantee}",view="goals"}} 0' in metrics

    # A rebuild applies the same rule: the same rows, the same faults, by the fast path.
    live = projector.digests(db, schema)
    old = {f.view: projection_faults.of_build(db, schema, f.view, f.version) for f in faults}
    with capture_logs() as logs:
        builds = rebuilds.rebuild_views(db, schema)
    assert not [e for e in logs if e["event"] == "rebuild_by_statements"]
    assert projector.digests(db, schema) == live
    for view, rows in old.items():
        assert projection_faults.of_build(db, schema, view, builds[view]) == rows
    assert len(projection_faults.live(db, schema)) == len(faults)


def test_the_worker_and_the_webhook_outbox_go_on_past_the_event(
    app, client, auth, db, grantee, enrol
):
    """The worker's sweep (views, then the outbox) raises nothing and reaches the head."""
    from services.webhooks import outbox

    schema = f"g_{grantee}"
    store_with_nul(app, grantee)
    last = enrol(first_name="Dee", number="LAST1")
    projector.drain(db, schema)
    outbox.drain(db, schema)
    assert projector.lowest_position(db, schema) == last["position"] == count_events(db, grantee)


def overflowing_progress(app: Any, slug: str, goal_id: str) -> None:
    """A progress record whose percent no `int` column holds (2^40): no command can record it
    (the domain keeps it within 0-100); it stands for any value a view refuses."""
    tenant = app.state.tenancy.app(slug)
    goal = tenant.ledger.load(Goal, goal_id, "goal")
    goal.trigger_event(
        Goal.ProgressRecorded, note="n", evidence="e", percent=2**40, occurred_at=utcnow()
    )
    tenant.ledger.record(goal, Command())


@pytest.fixture
def goal(client, auth, grantee, enrol) -> dict[str, Any]:
    pid = enrol()["id"]
    body = {
        "participant_id": pid,
        "horizon": "short_term",
        "domain": "employment",
        "statement": "Apply to three jobs",
        "measure": "applications sent",
        "target": "3",
        "target_date": (utcnow().date()).isoformat(),
    }
    r = client.post(
        f"/v1/grantees/{grantee}/goals", json=body, headers=auth("coordinator", grantee)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_write_refused_for_the_events_content_is_isolated_live_and_in_a_rebuild(
    app, client, auth, db, grantee, goal
):
    schema = f"g_{grantee}"
    h = auth("coordinator", grantee)
    overflowing_progress(app, grantee, goal["id"])
    progress = {"note": "sent two", "evidence": "emails", "percent": 60}
    r = client.post(f"/v1/grantees/{grantee}/goals/{goal['id']}/progress", json=progress, headers=h)
    assert r.status_code in (200, 201), r.text
    with capture_logs() as logs:
        projector.drain(db, schema)

    # The goals view skipped that one event (its `int` column refuses 2^40) and went on; the
    # other views took it.
    # At the log's head (a position may be skipped by an append that failed).
    with db.transaction() as cur:
        assert projector.lowest_position(db, schema) == projector.log_head(cur, schema)
    r = client.get(f"/v1/grantees/{grantee}/goals", headers=h)
    [row] = [g for g in r.json()["items"] if g["id"] == goal["id"]]
    assert (row["last_percent"], row["progress_count"]) == (60, 1)
    [fault] = projection_faults.live(db, schema)
    assert (fault.view, fault.fault, fault.topic) == (
        "goals",
        "write_failed",
        "domain.goals:Goal.ProgressRecorded",
    )
    assert fault.detail == "NumericValueOutOfRange (SQLSTATE 22003)"
    assert [e["view"] for e in logs if e["event"] == "projection_fault"] == ["goals"]

    # The rebuild's fold keeps the value, its COPY refuses it: the rebuild goes through the live
    # path instead, which isolates the same event, and gives the same rows and fault.
    live = projector.digests(db, schema)
    with capture_logs() as logs:
        builds = rebuilds.rebuild_views(db, schema)
    assert [e["event"] for e in logs if e["event"] == "rebuild_by_statements"] == [
        "rebuild_by_statements"
    ]
    assert projector.digests(db, schema) == live
    [rebuilt] = projection_faults.live(db, schema)
    assert rebuilt.version == builds["goals"] and rebuilt.position == fault.position


def test_a_wage_stored_before_its_bound_stops_no_view_and_no_read(
    app, client, auth, db, grantee, enrol
):
    """A wage beyond what PostgreSQL's `numeric` holds, recorded before the API bounded wages
    (decision 103), stays in the log for ever: the evaluation view sets that one event aside as
    a fault, every other outcome and view goes on, and the participant's outcomes (read from
    the log) still answer, the wage as recorded."""
    from decimal import Decimal

    from domain.evaluation import Employment, Outcomes, WageUnit, outcomes_id

    schema = f"g_{grantee}"
    h = auth("coordinator", grantee)
    pid = enrol()["id"]
    job = {"employer": "Harbor Freight", "started_on": "2026-10-05", "wage": "18.50"}
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/outcomes/employment",
        json={**job, "wage_unit": "hourly"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    # As the API recorded it before decision 103: no bound on the wage.
    tenant = app.state.tenancy.app(grantee)
    outcomes = tenant.ledger.load(Outcomes, outcomes_id(UUID(pid)), "outcomes")
    huge = Employment(
        employer="Typo Inc",
        started_on=date(2026, 10, 6),
        wage=Decimal("1E+200000"),
        wage_unit=WageUnit.HOURLY,
    )
    outcomes.trigger_event(
        Outcomes.EmploymentStarted,
        participant_id=outcomes.participant_id,
        employment=huge,
        occurred_at=utcnow(),
    )
    tenant.ledger.record(outcomes, Command())
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/outcomes/employment",
        json={**job, "employer": "Later Co", "started_on": "2026-10-07", "wage_unit": "hourly"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    projector.drain(db, schema)

    with db.transaction() as cur:
        assert projector.lowest_position(db, schema) == projector.log_head(cur, schema)
    [fault] = projection_faults.live(db, schema)
    assert (fault.view, fault.fault, fault.topic) == (
        "evaluation",
        "write_failed",
        "domain.evaluation:Outcomes.EmploymentStarted",
    )
    rows = client.get(f"/v1/grantees/{grantee}/outcomes", headers=h).json()["items"]
    assert [(x["employer"], x["wage"]) for x in rows if x["participant_id"] == pid] == [
        ("Harbor Freight", "18.50"),
        ("Later Co", "18.50"),
    ]
    r = client.get(f"/v1/grantees/{grantee}/participants/{pid}/outcomes", headers=h)
    assert r.status_code == 200, r.text
    assert [e["wage"] for e in r.json()["employments"]] == ["18.50", "1E+200000", "18.50"]
    # A rebuild gives the same rows and sets the same event aside.
    live = projector.digests(db, schema)
    rebuilds.rebuild_views(db, schema)
    assert projector.digests(db, schema) == live
    [rebuilt] = projection_faults.live(db, schema)
    assert (rebuilt.view, rebuilt.position) == ("evaluation", fault.position)


def test_an_event_altered_in_the_log_leaves_the_metrics_answering(client, db, grantee, enrol):
    """An event altered behind the service's back stops its grantee's views at it (`prowd
    verify` finds it); the scrape of every grantee's metrics still answers, that grantee's lag
    in events counted and the age of an event that does not decode unknown (NaN), not a 500."""
    from tests.conftest import corrupt_event

    schema = f"g_{grantee}"
    enrol()
    projector.drain(db, schema)
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    enrol(first_name="Bo")
    # The first event after every view's position: the oldest each view has not applied.
    corrupt_event(db, schema, head + 1)
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    lag = [x for x in lines if x.startswith(f'prowd_projection_lag_events{{grantee="{grantee}"')]
    assert lag and all(float(x.rsplit(" ", 1)[1]) >= 1 for x in lag), lag
    age = [x for x in lines if x.startswith(f'prowd_projection_lag_seconds{{grantee="{grantee}"')]
    assert age and all(x.endswith(" NaN") for x in age), age
