"""The command path (issue 23, point 2): a command is one round trip once the aggregates it
reads are cached, the cache is checked by the log when a command writes, and a command that
failed leaves nothing of its own in the cache.

Two API instances share the database: `client` (the session's) and `traced` (its own pool of
fixed size, every connection traced with libpq's protocol trace, its own aggregate caches), as
two processes would. Round trips are the statements the traced pool sent; transactions are
counted as the server closed them (tests/pgtrace.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from domain import assignment
from domain.facilities import Cohort, cohort_id
from domain.participants import Participant
from services.store.database import Database
from services.store.ledger import LedgerApplication
from tests.meetings_helpers import World, held
from tests.pgtrace import CONNECTIONS, traced, traced_app


@pytest.fixture(scope="module")
def traced_api(settings: Any, database_url: str) -> Iterator[tuple[Database, TestClient[Any]]]:
    with traced_app(settings, database_url, "prowd-write-path") as api:
        yield api


@pytest.fixture
def world(traced_api: Any, auth: Any, db: Database) -> World:
    """A grantee with mentors and cohorts, made through the traced instance."""
    return World(traced_api[1], auth, db, "America/Chicago")


def ledger_of(api: TestClient[Any], slug: str) -> LedgerApplication:
    ledger: LedgerApplication = api.app.state.tenancy.app(slug).ledger
    return ledger


def statements(transactions: list[list[str]]) -> list[str]:
    return [s for t in transactions for s in t]


def enrolment(name: str = "Bo") -> dict[str, Any]:
    return {
        "first_name": name,
        "last_name": "Lee",
        "date_of_birth": "1990-04-02",
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
        # The duplicate search (decision 56) reads the search view first: not the write path.
        "duplicate_reason": "write path test",
    }


def test_an_enrolment_is_one_statement_in_autocommit(traced_api: Any, world: World) -> None:
    """Before (c4e6b21): 6 round trips, 2 transactions (SELECT cohort; BEGIN, append_events,
    INSERT key, INSERT access log, COMMIT). Now the cohort comes from the cache and the key and
    access-log rows are CTEs of the append: 1 round trip, 1 transaction."""
    pool, api = traced_api
    world.enrol()  # the cohort is now cached in this instance
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(world.base + "/participants", json=enrolment(), headers=world.headers())
    assert r.status_code == 201, r.text
    assert len(transactions) == 1, transactions
    (statement,) = statements(transactions)
    assert "append_checked" in statement
    assert "participant_keys" in statement and "access_log" in statement
    # With an Idempotency-Key: the look-up of an earlier outcome, then the same one statement
    # (the idempotency record a CTE of it too).
    keyed = {**world.headers(), "Idempotency-Key": "enrol-once"}
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(world.base + "/participants", json=enrolment("Cy"), headers=keyed)
    assert r.status_code == 201, r.text
    sent = statements(transactions)
    assert len(sent) == 2, sent
    assert "idempotency" in sent[0] and "SELECT" in sent[0]
    assert "INSERT INTO" in sent[1] and "idempotency" in sent[1] and "append_checked" in sent[1]
    retry = api.post(world.base + "/participants", json=enrolment("Cy"), headers=keyed)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["x-log-position"] == r.headers["x-log-position"]
    assert retry.json()["id"] == r.json()["id"]


def test_an_enrolment_checked_for_duplicates_reads_the_enrolment_index_once(
    traced_api: Any, world: World
) -> None:
    """Without a `duplicate_reason` the enrolment looks its keys up in the enrolment index,
    which the writes keep (decision 132). Before decision 132: 3 transactions (the search
    view caught up to the log's head, the query of the build it wrote to, the append); before
    that 7. Now 2: the indexed query and the append, which writes the new keys with the
    events."""
    pool, api = traced_api
    world.enrol()
    plain = {k: v for k, v in enrolment("Di").items() if k != "duplicate_reason"}
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(world.base + "/participants", json=plain, headers=world.headers())
    assert r.status_code == 201, r.text
    assert len(transactions) == 2, transactions
    query, append = transactions
    assert not any("pg_try_advisory_xact_lock" in s for t in transactions for s in t)
    assert "enrolment_index" in query[0] and "register_key" in query[0]
    assert "append_checked" in append[0] and "enrolment_index" in append[0]
    # The same person again is found, whatever the view had applied before.
    again = api.post(world.base + "/participants", json=plain, headers=world.headers())
    assert again.status_code == 409 and again.json()["code"] == "possible_duplicate"


def test_a_held_meeting_is_one_statement_once_its_aggregates_are_cached(
    traced_api: Any, world: World
) -> None:
    """Before: 9 round trips, 6 transactions (the meeting, pairing, mentor, participant and
    cohort read one each, then BEGIN, append, access log, COMMIT). Now 1 and 1."""
    pool, api = traced_api
    mentor = world.mentor("mentor-w")
    mentee = world.enrol()
    pairing = world.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    world.meet(pairing, "2026-10-06T18:00:00-05:00")  # reads (and caches) what a meeting needs
    meeting = world.schedule(pairing, "2026-10-13T18:00:00-05:00")
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(
            f"{world.base}/meetings/{meeting['id']}/held",
            json=held("2026-10-13T18:05:00-05:00", 45),
            headers=world.headers(),
        )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "held"
    assert len(statements(transactions)) == 1, transactions


def test_a_meeting_recorded_with_its_pairings_booking_is_still_one_statement(
    traced_api: Any, world: World
) -> None:
    """Decision 96: a new meeting books its time on its pairing, which the command read
    already (from the cache) and now saves too: still 1 round trip, 1 transaction."""
    pool, api = traced_api
    mentor = world.mentor("mentor-w")
    pairing = world.pair(mentor, [world.enrol()], "2026-10-01T15:00:00Z")
    world.meet(pairing, "2026-10-06T18:00:00-05:00")  # reads (and caches) what a meeting needs
    at = "2026-10-13T18:00:00-05:00"
    body = world.meeting_body(pairing, at, record=held(at, 45))
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(f"{world.base}/meetings", json=body, headers=world.headers())
    assert r.status_code == 201, r.text
    assert len(statements(transactions)) == 1, transactions
    assert world.topics_of(pairing) == [
        "Opened",
        "MeetingBooked",
        "FirstMeetingRecorded",
        "MeetingBooked",
    ]


def test_a_cached_aggregate_another_instance_changed_is_refused_then_the_command_reruns(
    traced_api: Any, world: World, client: TestClient[Any]
) -> None:
    """The traced instance holds the participant at its enrolment; the other instance moves
    them to stage 2. An assignment through the traced instance first writes at the cached
    version, is refused by the log's unique key, and runs again from the log: it succeeds, and
    its answer shows the move (no lost update)."""
    pool, api = traced_api
    pid = world.enrol()
    h = world.headers()
    moved = client.post(
        f"{world.base}/participants/{pid}/stage-transitions",
        json={
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-03-01T09:00:00Z",
        },
        headers=h,
    )
    assert moved.status_code == 201, moved.text
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(
            f"{world.base}/participants/{pid}/assignments",
            json={"duty": "case_manager", "staff": "cm-1"},
            headers=h,
        )
    assert r.status_code == 201, r.text
    assert r.json()["stage"] == 2 and r.json()["case_manager"] == "cm-1"
    appends = [s for s in statements(transactions) if "append_checked" in s]
    assert len(appends) == 2, appends  # the stale attempt, then the one from the log
    assert world.topics_of(pid)[-2:] == ["StageTransitioned", "StaffAssigned"]


def test_a_cached_aggregate_only_read_is_checked_when_the_command_writes(
    traced_api: Any, world: World, client: TestClient[Any]
) -> None:
    """The cohort an enrolment reads is not written by it: its cached version goes to the
    append, which refuses it once the other instance changed the cohort; the enrolment runs
    again from the log and the cache then holds the cohort as the log does."""
    pool, api = traced_api
    world.enrol()  # cohort C1 cached by the traced instance
    hours = {"slots": [{"weekday": 2, "start": "09:00", "end": "11:00"}]}
    changed = client.post(
        f"{world.base}/cohorts/C1/class-hours", json=hours, headers=world.headers()
    )
    assert changed.status_code == 201, changed.text
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(world.base + "/participants", json=enrolment(), headers=world.headers())
    assert r.status_code == 201, r.text
    appends = [s for s in statements(transactions) if "append_checked" in s]
    assert len(appends) == 2, appends
    ledger = ledger_of(api, world.slug)
    cached = ledger.cache.get(cohort_id("C1"))
    fresh = ledger.load(Cohort, cohort_id("C1"), "cohort")
    assert cached is not None and cached.version == fresh.version
    assert [s.weekday for s in cached.class_hours] == [2]


def test_a_command_that_changes_nothing_on_a_stale_cached_aggregate_reruns_from_the_log(
    traced_api: Any, world: World, client: TestClient[Any]
) -> None:
    """The traced instance holds a webhook endpoint as enabled; another process (the
    dispatcher, after a 410) disables it. Enabling it through the traced instance found it
    enabled in the cache, changed nothing and wrote its registry anyway: the log kept
    'Disabled' while the endpoint read as enabled, and the RRC's events were lost for good
    (found by a reviewer). A command that changes nothing is checked as a read: refused on
    the stale version, it reruns from the log and records the enabling."""
    pool, api = traced_api
    admin = world.headers("grantee_admin")
    # A public address the test never reaches (no dispatcher runs here).
    made = api.post(
        f"{world.base}/webhook-endpoints",
        json={"url": "https://9.9.9.9/rrc", "facility": "RRC-1", "event_types": ["meeting.held"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()["id"]
    ledger_of(api, world.slug).run(lambda: None)  # nothing else of the traced instance's runs
    r = client.post(f"{world.base}/webhook-endpoints/{endpoint}/disable", headers=admin)
    assert r.status_code == 200, r.text
    assert world.topics_of(endpoint)[-1] == "Disabled"
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(f"{world.base}/webhook-endpoints/{endpoint}/enable", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True
    assert world.topics_of(endpoint)[-2:] == ["Disabled", "Enabled"]
    appends = [s for s in statements(transactions) if ".append_" in s]
    # The stale no-op checked and refused, then the enabling from the log appended.
    assert ["append_checked" in s for s in appends] == [True, False], appends
    read = client.get(f"{world.base}/webhook-endpoints/{endpoint}", headers=admin)
    assert read.json()["enabled"] is True


def test_a_command_that_failed_leaves_no_mutation_in_the_cache(
    traced_api: Any, world: World
) -> None:
    _, api = traced_api
    pid = UUID(world.enrol())
    ledger = ledger_of(api, world.slug)
    ledger.run(lambda: ledger.load(Participant, pid, "participant"))  # cached
    kept = ledger.cache.get(pid)
    assert kept is not None

    def assign_then_fail() -> None:
        participant = ledger.load(Participant, pid, "participant")
        assignment.assign(participant, assignment.Duty.CASE_MANAGER, "cm-9")
        raise RuntimeError("the command failed after changing its aggregate")

    with pytest.raises(RuntimeError):
        ledger.run(assign_then_fail)
    again = ledger.run(lambda: ledger.load(Participant, pid, "participant"))
    assert again.version == kept.version
    assert assignment.assigned(again, assignment.Duty.CASE_MANAGER) is None
    assert not again.collect_events()


def test_a_transition_checks_the_derived_exit_in_one_round_trip(
    traced_api: Any, world: World
) -> None:
    """A participant entered more than 90 days ago may have a derived exit (decision 97): the
    move reads their facts first. At first: one statement and one transaction per fact table
    (ten), each after a borrow from the pool; then one pipeline of the ten; now one statement
    reading the ten tables (decision 152), then the append."""
    pool, api = traced_api
    pid = world.enrol(entry="2025-09-15")  # the participant is now cached in this instance
    with traced(pool, CONNECTIONS) as transactions:
        r = api.post(
            f"{world.base}/participants/{pid}/stage-transitions",
            json={
                "to_stage": 2,
                "placement": "rrc",
                "facility": "RRC-1",
                "occurred_at": "2026-03-01T09:00:00Z",
            },
            headers=world.headers(),
        )
    assert r.status_code == 201, r.text
    assert r.json()["stage"] == 2
    facts = [t for t in transactions if any("ov_" in s for s in t)]
    assert len(facts) == 1, transactions
    [statement] = facts[0]
    assert statement.count("UNION ALL") == 9, statement  # the ten fact tables
    assert len(transactions) == 3, transactions  # the view's build, its facts, the append
    assert "append_checked" in transactions[-1][0]
