"""Reads at realistic sizes (issue 23, point 5; decision 84): the main list queries use the
views' indexes, the caseload page is at most two database transactions, and a read's
access-log row commits in the read's own transaction.

Plans are the server's own (`EXPLAIN (FORMAT JSON)` of the statements the query functions
send), over view builds filled with generated rows and ANALYZEd, as a grantee of some years
would have them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from litestar.testing import TestClient
from psycopg import sql

from projections.base import Tables
from projections.caseload_reads import row_extras
from projections.meetings import awaiting_outcome, meeting_log
from projections.supervision_reads import escalation_page
from projections.timeline import timeline_page
from services.projector import live as projector
from services.store.database import Database
from tests.conftest import own_database, stack_fixtures
from tests.pgtrace import CONNECTIONS, traced, traced_app

# A database of the module's own: a test migrates every grantee of its database, and the
# suite's holds hundreds of grantees late in a parallel run.
database_url = own_database("prowd_plans")
settings, db, app, client, auth, make_grantee = stack_fixtures("module", "prowd-plans")

GOALS = 40_000
MEETINGS = 60_000
PAIRINGS = 3_000
# The alert's meetings (decision 142): one meeting in AWAITING left without outcome, a pairing
# in CLOSED closed; the rest held, missed or cancelled, the last ones still to come.
AWAITING = 211
CLOSED = 10
# The meetings after this one are still to come at the alert's cutoff.
FUTURE = MEETINGS - 200


class Explaining:
    """A `Reader` that asks the server for the plan of each statement before running it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.plans: list[dict[str, Any]] = []

    def _explain(self, query: Any, params: Any) -> None:
        statement = sql.SQL(query) if isinstance(query, str) else query
        explain = sql.Composed([sql.SQL("EXPLAIN (FORMAT JSON) "), statement])
        (plan,) = self.conn.execute(explain, params).fetchone() or ((),)
        self.plans.append(plan[0]["Plan"])

    def fetchall(self, query: Any, params: Any = None) -> list[Any]:
        self._explain(query, params)
        return self.conn.execute(query, params).fetchall()

    def fetchone(self, query: Any, params: Any = None) -> Any:
        self._explain(query, params)
        return self.conn.execute(query, params).fetchone()


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans_of(plans: list[dict[str, Any]], table: str) -> tuple[list[str], set[str]]:
    """The node types of every scan of `table` in `plans`, and the indexes of it they read
    (a bitmap heap scan names its table, its bitmap index scans the index)."""
    everything = [n for plan in plans for n in nodes(plan)]
    kinds = [n["Node Type"] for n in everything if n.get("Relation Name") == table]
    indexes = {
        n["Index Name"] for n in everything if n.get("Index Name", "").startswith(f"{table}_")
    }
    return kinds, indexes


@pytest.fixture(scope="module")
def owner(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def numbered(n: int) -> UUID:
    """The id the generated rows give number `n` (its decimal digits)."""
    return UUID(f"00000000-0000-0000-0000-{n:012d}")


def build_of(conn: psycopg.Connection[Any], schema: str, view: str) -> Tables:
    with conn.cursor() as cur:
        build = projector.active_build(cur, schema, view)
    assert build is not None
    return Tables(schema, build)


def test_overdue_goals_of_a_caseload_page_use_the_participant_index(owner, make_grantee):
    schema = f"g_{make_grantee()}"
    t = build_of(owner, schema, "goals")
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (goal_id, participant_id, horizon, domain, statement, measure, target,"
            " target_date, set_on, first_set_on, revision, status, last_position)"
            " SELECT gen_random_uuid(), ('00000000-0000-0000-0000-' || lpad((i %% 8000)::text, 12,"
            " '0'))::uuid, 'short', 'employment', 's', 'm', 't', date '2026-01-01' + (i %% 300),"
            " date '2025-12-01', date '2025-12-01', 1, 'active', i"
            " FROM generate_series(1, %s) i"
        ).format(t["goals"]),
        (GOALS,),
    )
    owner.execute(sql.SQL("ANALYZE {}").format(t["goals"]))
    page = [numbered(i) for i in range(100)]
    reader = Explaining(owner)
    counts, _ = row_extras(reader, t, None, page, date(2026, 6, 1))
    due = [i % 8000 for i in range(1, GOALS + 1) if i % 8000 < 100 and i % 300 < 151]
    assert counts == {numbered(n): due.count(n) for n in set(due)}
    kinds, indexes = scans_of(reader.plans, f"goals_b{t.build}")
    assert kinds and "Seq Scan" not in kinds, kinds
    assert indexes == {f"goals_b{t.build}_participant"}


def test_a_participants_timeline_pages_in_time_order_through_its_index(owner, make_grantee):
    """Rows recorded in an order unlike their times: the pages follow the times, read by the
    index `(participant_id, occurred_at, position)`, not by sorting every row."""
    schema = f"g_{make_grantee()}"
    t = build_of(owner, schema, "timeline")
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (participant_id, position, occurred_at, recorded_at, recorded_by,"
            " kind, subject_id, audience, detail)"
            " SELECT ('00000000-0000-0000-0000-' || lpad((i %% 400)::text, 12, '0'))::uuid, i,"
            " timestamptz '2026-01-05 15:00Z' - ((i * 7919) %% 1000) * interval '1 hour',"
            " timestamptz '2026-01-05 15:00Z', 'staff', 'meeting.Held', gen_random_uuid(),"
            " 'case', '{{}}' FROM generate_series(1, %s) i"
        ).format(t["timeline"]),
        (40000,),
    )
    owner.execute(sql.SQL("ANALYZE {}").format(t["timeline"]))
    reader = Explaining(owner)
    seen, cursor = [], ""
    while True:
        page, cursor = timeline_page(
            reader, t, numbered(42), ["case"], after=cursor or "", limit=40
        )
        seen += page
        if cursor is None:
            break
    order = [(e.occurred_at, e.position) for e in seen]
    assert len(order) == 100 and order == sorted(order)
    assert [e.position for e in seen] != sorted(e.position for e in seen)
    kinds, indexes = scans_of(reader.plans, f"timeline_b{t.build}")
    assert kinds and "Seq Scan" not in kinds and "Sort" not in kinds, kinds
    assert indexes == {f"timeline_b{t.build}_time"}


@pytest.fixture(scope="module")
def meetings(owner, make_grantee) -> Tables:
    """A meetings build of MEETINGS rows over PAIRINGS pairings, some at the same instant."""
    schema = f"g_{make_grantee()}"
    t = build_of(owner, schema, "meetings")
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (meeting_id, pairing_id, status, scheduled_for, planned_minutes,"
            " location_kind, week, last_position)"
            " SELECT gen_random_uuid(), ('00000000-0000-0000-0000-' || lpad((i %% %s)::text, 12,"
            " '0'))::uuid, 'scheduled', timestamptz '2026-01-05 15:00Z' + (i / 7) * interval"
            " '1 hour', 60, 'remote', '2026-W02', i FROM generate_series(1, %s) i"
        ).format(t["meetings"]),
        (PAIRINGS, MEETINGS),
    )
    owner.execute(sql.SQL("ANALYZE {}").format(t["meetings"]))
    return t


def test_a_pairings_meeting_log_pages_through_its_index(owner, meetings):
    t, pairing = meetings, numbered(42)
    reader = Explaining(owner)
    first, cursor = meeting_log(reader, t, pairing, after="", limit=8)
    assert cursor is not None
    second, _ = meeting_log(reader, t, pairing, after=cursor, limit=8)
    kinds, indexes = scans_of(reader.plans, f"meetings_b{t.build}")
    assert kinds and "Seq Scan" not in kinds, kinds
    assert indexes == {f"meetings_b{t.build}_pairing_time"}
    order = [(m.scheduled_for, m.id) for m in first + second]
    assert order == sorted(order) and len(set(order)) == 16
    assert {m.pairing_id for m in first + second} == {pairing}


def test_the_meeting_log_across_pairings_pages_through_its_index(owner, meetings):
    t = meetings
    reader = Explaining(owner)
    first, cursor = meeting_log(reader, t, None, after="", limit=10)
    assert cursor is not None
    second, _ = meeting_log(reader, t, None, after=cursor, limit=10)
    kinds, indexes = scans_of(reader.plans, f"meetings_b{t.build}")
    assert kinds and "Seq Scan" not in kinds, kinds
    assert indexes == {f"meetings_b{t.build}_time"}
    # Seven meetings share each instant: the id orders them, and no page repeats or skips one.
    order = [(m.scheduled_for, m.id) for m in first + second]
    assert order == sorted(order) and len(set(order)) == 20
    assert first[-1].scheduled_for == second[0].scheduled_for


@pytest.fixture(scope="module")
def answered(owner, make_grantee) -> tuple[Tables, Tables]:
    """Meetings and pairings builds as a grantee of some years has them: MEETINGS meetings over
    PAIRINGS pairings, one an hour, almost all answered (held, missed, cancelled); those after
    FUTURE still to come; one in AWAITING past its time and still scheduled."""
    schema = f"g_{make_grantee()}"
    meetings, pairings = build_of(owner, schema, "meetings"), build_of(owner, schema, "pairings")
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (pairing_id, kind, mentor_id, location_kind, frequency,"
            " minutes_per_meeting, months, criteria, criteria_note, opened_at, closed_at,"
            " member_count, last_position)"
            " SELECT ('00000000-0000-0000-0000-' || lpad(k::text, 12, '0'))::uuid, 'individual',"
            " gen_random_uuid(), 'remote', 'weekly', 60, 6, '{{}}', '', timestamptz '2025-01-06Z',"
            " CASE WHEN k %% %s = 0 THEN timestamptz '2026-06-01Z' END, 1, k"
            " FROM generate_series(0, %s) k"
        ).format(pairings["pairings"]),
        (CLOSED, PAIRINGS - 1),
    )
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (meeting_id, pairing_id, status, scheduled_for, planned_minutes,"
            " location_kind, week, last_position)"
            " SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,"
            " ('00000000-0000-0000-0000-' || lpad((i %% %s)::text, 12, '0'))::uuid,"
            " CASE WHEN i > %s OR i %% %s = 0 THEN 'scheduled' WHEN i %% 9 = 0 THEN 'missed'"
            " WHEN i %% 23 = 0 THEN 'cancelled' ELSE 'held' END,"
            " timestamptz '2025-01-06 15:00Z' + i * interval '1 hour', 60, 'remote', '2025-W02', i"
            " FROM generate_series(1, %s) i"
        ).format(meetings["meetings"]),
        (PAIRINGS, FUTURE, AWAITING, MEETINGS),
    )
    owner.execute(sql.SQL("ANALYZE {}").format(meetings["meetings"]))
    owner.execute(sql.SQL("ANALYZE {}").format(pairings["pairings"]))
    return meetings, pairings


def test_the_meetings_without_outcome_are_read_through_their_index(owner, answered):
    """The alert's query reads the meetings still scheduled before the cutoff through the
    partial index of the scheduled ones, not every meeting of the grantee (decision 142)."""
    meetings, pairings = answered
    reader = Explaining(owner)
    before = datetime(2025, 1, 6, 15, tzinfo=UTC) + timedelta(hours=FUTURE + 1)
    found = awaiting_outcome(reader, meetings, pairings, before)
    expected = [
        numbered(i)
        for i in range(1, FUTURE + 1)
        if i % AWAITING == 0 and (i % PAIRINGS) % CLOSED != 0
    ]
    assert len(expected) > 200
    assert [m.meeting_id for m in found] == expected
    assert all(m.pairing_id == numbered(_n(m.meeting_id) % PAIRINGS) for m in found)
    kinds, indexes = scans_of(reader.plans, f"meetings_b{meetings.build}")
    assert kinds and "Seq Scan" not in kinds, kinds
    assert indexes == {f"meetings_b{meetings.build}_awaiting"}


ESCALATIONS = 20_000


@pytest.fixture(scope="module")
def escalations(owner, make_grantee) -> Tables:
    """A supervision build with ESCALATIONS escalations as a grantee of some years has them:
    seven raised at each instant (ties the id orders), an instant every three hours, every
    17th still open."""
    schema = f"g_{make_grantee()}"
    t = build_of(owner, schema, "supervision")
    owner.execute(
        sql.SQL(
            "INSERT INTO {} (escalation_id, mentor_id, type, severity, description, raised_by,"
            " raised_at, resolved_at, last_position)"
            " SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,"
            " ('00000000-0000-0000-0000-' || lpad((i %% 300)::text, 12, '0'))::uuid,"
            " CASE WHEN i %% 5 = 0 THEN 'crisis' ELSE 'boundary_concern' END, 'medium', 'generated',"
            " 'coordinator', timestamptz '2023-01-02 15:00Z' + (i / 7) * interval '3 hours',"
            " CASE WHEN i %% 17 <> 0 THEN timestamptz '2023-01-02 15:00Z'"
            " + (i / 7) * interval '3 hours' + interval '2 days' END, i"
            " FROM generate_series(1, %s) i"
        ).format(t["escalations"]),
        (ESCALATIONS,),
    )
    owner.execute(sql.SQL("ANALYZE {}").format(t["escalations"]))
    return t


def test_the_escalations_page_newest_raised_first_through_their_index(owner, escalations):
    """The escalations list's keyset, `(raised_at, escalation_id)` descending (decision 139),
    reads the view through the index of that order, from the newest and from a cursor, with no
    sort of the whole table (decision 148); the open ones too."""
    t = escalations
    now = datetime(2030, 1, 1, tzinfo=UTC)
    reader = Explaining(owner)
    first, cursor = escalation_page(reader, t, now, after="", limit=25)
    assert cursor is not None
    second, _ = escalation_page(reader, t, now, after=cursor, limit=25)
    opened, _ = escalation_page(reader, t, now, after="", limit=25, status="open")
    ids = [_n(e.id) for e in first + second]
    # Newest first: the greatest numbers, seven to an instant, the greater id first in each.
    assert ids == list(range(ESCALATIONS, ESCALATIONS - 50, -1))
    assert [_n(e.id) for e in opened] == [i for i in range(ESCALATIONS, 0, -1) if i % 17 == 0][:25]
    kinds, indexes = scans_of(reader.plans, f"escalations_b{t.build}")
    assert kinds and "Seq Scan" not in kinds, kinds
    assert indexes == {f"escalations_b{t.build}_raised"}
    assert not [n for plan in reader.plans for n in nodes(plan) if n["Node Type"] == "Sort"]


def _n(meeting_id: UUID) -> int:
    return int(str(meeting_id).rsplit("-", 1)[1])


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        # The format handed out before decision 84: the instant and the id as text.
        "2026-01-05 15:00:00+00|" + "7c5ca7dd-b4de-45a1-bddc-69759a7d6bc5",
        base64.urlsafe_b64encode(
            json.dumps(["yesterday", "8258cb00-175d-4d54-807b-c6e8794ac46c"]).encode()
        ).decode(),
        base64.urlsafe_b64encode(json.dumps(["2026-01-05T15:00:00+00:00"]).encode()).decode(),
    ],
)
def test_a_meeting_log_cursor_it_never_handed_out_is_400(client, auth, grantee, cursor):
    r = client.get(
        f"/v1/grantees/{grantee}/meetings",
        params={"cursor": cursor},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_cursor"


@pytest.fixture(scope="module")
def traced_api(settings: Any, database_url: str) -> Iterator[tuple[Database, TestClient[Any]]]:
    """The API on a pool of its own, of a fixed size, so that every connection is traced."""
    with traced_app(settings, database_url, "prowd-traced") as api:
        yield api


# Sorted by last service too: the services it sorts by are those the page has loaded already.
@pytest.mark.parametrize("sort", ["", "&sort=last_service_on"])
def test_a_caseload_page_is_at_most_two_transactions_with_its_access_log_row(
    traced_api, auth, grantee, enrol, db, sort
):
    for _ in range(3):
        enrol()
    projector.drain(db, f"g_{grantee}")
    pool, api = traced_api
    h = auth("coordinator", grantee)
    assert api.get(f"/v1/grantees/{grantee}/participants", headers=h).status_code == 200
    with traced(pool, CONNECTIONS) as transactions:
        r = api.get(f"/v1/grantees/{grantee}/participants?limit=2{sort}", headers=h)
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    assert all(row["last_service_on"] for row in r.json()["items"])
    assert 1 <= len(transactions) <= 2, transactions
    # The access-log row is written by the transaction that read the caseload's rows.
    (logged,) = [t for t in transactions if any("access_log" in s for s in t)]
    assert any("INSERT" in s for s in logged if "access_log" in s)
    assert any("caseload_b" in s and "SELECT" in s for s in logged), logged


def test_a_meeting_log_read_and_its_access_log_row_are_one_transaction(traced_api, auth, grantee):
    pool, api = traced_api
    h = auth("coordinator", grantee)
    assert api.get(f"/v1/grantees/{grantee}/meetings", headers=h).status_code == 200
    with traced(pool, CONNECTIONS) as transactions:
        r = api.get(f"/v1/grantees/{grantee}/meetings", headers=h)
    assert r.status_code == 200
    (logged,) = [t for t in transactions if any("access_log" in s for s in t)]
    assert any("meetings_b" in s and "SELECT" in s for s in logged), logged


def test_a_build_made_before_its_indexes_were_declared_gets_them_at_migration(
    app, client, owner, make_grantee
):
    schema = f"g_{make_grantee()}"
    goals, meetings = build_of(owner, schema, "goals"), build_of(owner, schema, "meetings")
    timeline = build_of(owner, schema, "timeline")
    supervision = build_of(owner, schema, "supervision")
    made_before = [
        f"goals_b{goals.build}_participant",
        f"meetings_b{meetings.build}_pairing_time",
        f"meetings_b{meetings.build}_time",
        f"meetings_b{meetings.build}_awaiting",
        f"timeline_b{timeline.build}_time",
        f"escalations_b{supervision.build}_raised",
    ]
    for name in made_before:
        owner.execute(
            sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        )
    app.state.tenancy.migrate(force=True)
    rows = owner.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexname = ANY(%s)",
        (schema, made_before),
    ).fetchall()
    assert sorted(name for (name,) in rows) == sorted(made_before)
