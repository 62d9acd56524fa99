"""A pairing meets once at a time (decision 96): a second meeting of a pairing at an instant at
which it has a meeting already (not cancelled) is refused with 409 `duplicate_meeting`, naming
the meeting it has, and appends nothing; by the single endpoint and by a batch item alike, two
identical items of one batch included, and when both requests were decided at once. A retry
with the same `Idempotency-Key` is answered as the first time; a cancelled meeting's time may be
taken again; another pairing may meet at the same time. The rule itself is checked without a
database too. Today is 2026-11-26 (UTC)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain.common import AlreadyExists
from domain.meetings import DuplicateMeeting, Meeting, MeetingStatus, check_no_overlap
from domain.pairings import Pairing
from services.api.app import create_app
from services.settings import Settings
from services.store.database import Database
from tests.conftest import race
from tests.meetings_helpers import World, held
from tests.test_batch_commands import item, send
from tests.test_cadence_domain import OFF_SITE as OFF_SITE_LOCATION
from tests.test_cadence_domain import open_pairing

AT = "2026-11-03T18:00:00-06:00"
# The same instant written with another offset.
AT_UTC = "2026-11-04T00:00:00Z"


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def solo(w: World, subject: str = "mentor-a") -> str:
    """A new individual pairing of a new mentor and mentee; its id."""
    return w.pair(w.mentor(subject), [w.enrol()], "2026-10-01T15:00:00Z")


def held_at(w: World, pairing: str, at: str = AT) -> dict[str, Any]:
    """The body of a meeting recorded as held at `at` (scheduled for that moment)."""
    return w.meeting_body(pairing, at, record=held(at, 55, summary="resume"))


def named(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """The meetings a 409 names, by id and status (their spans are checked on their own)."""
    return [{k: e[k] for k in ("meeting_id", "status")} for e in problem["existing"]]


def meetings_of(w: World, pairing: str) -> list[str]:
    """The ids of the pairing's meetings in the meeting log."""
    return [m["id"] for m in w.log(pairing)]


# -- the single endpoint ---------------------------------------------------------------------


def test_a_meeting_recorded_twice_is_refused_naming_the_first(world: World) -> None:
    """A double tap without an idempotency key: the second is 409 `duplicate_meeting` with the
    first meeting's id and appends nothing (`refused` counts the log); the meeting log holds
    the meeting once."""
    w = world
    pairing = solo(w)
    first = w.post("/meetings", held_at(w, pairing))
    problem = w.refused("/meetings", held_at(w, pairing), "duplicate_meeting", status=409)
    assert problem["type"] == "urn:prowd:problem:duplicate_meeting"
    assert problem["title"] == "Conflict"
    assert named(problem) == [{"meeting_id": first["id"], "status": "held"}]
    assert first["id"] in problem["detail"]
    # The same instant written with another offset is the same time.
    again = w.refused("/meetings", held_at(w, pairing, AT_UTC), "duplicate_meeting", status=409)
    assert again["existing"] == problem["existing"]
    assert problem["existing"][0]["starts_at"] == AT_UTC.replace("Z", "+00:00")
    # Scheduling (not recording as held) at that time is refused too.
    w.refused("/meetings", w.meeting_body(pairing, AT), "duplicate_meeting", status=409)
    assert meetings_of(w, pairing) == [first["id"]]


def test_a_scheduled_meeting_is_not_recorded_again_as_a_new_one(world: World) -> None:
    """A meeting scheduled for that time is named (status `scheduled`): the client records it
    as held through its own endpoint instead."""
    w = world
    pairing = solo(w)
    scheduled = w.post("/meetings", w.meeting_body(pairing, AT))
    problem = w.refused("/meetings", held_at(w, pairing), "duplicate_meeting", status=409)
    assert named(problem) == [{"meeting_id": scheduled["id"], "status": "scheduled"}]
    done = w.post(f"/meetings/{scheduled['id']}/held", held(AT, 55))
    assert done["status"] == "held"
    assert meetings_of(w, pairing) == [scheduled["id"]]


def test_a_retry_with_the_same_key_returns_the_first_meeting(world: World) -> None:
    """Idempotent retries are answered as the first time (201, the same meeting), not 409."""
    w = world
    pairing = solo(w)
    h = {**w.headers(), "Idempotency-Key": "tap-1"}
    first = w.client.post(w.base + "/meetings", json=held_at(w, pairing), headers=h)
    assert first.status_code == 201, first.text
    count = w.events()
    again = w.client.post(w.base + "/meetings", json=held_at(w, pairing), headers=h)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert w.events() == count


def test_a_cancelled_meetings_time_may_be_taken_again(world: World) -> None:
    """Cancelled, the meeting no longer holds its time; the new meeting does."""
    w = world
    pairing = solo(w)
    cancelled = w.post("/meetings", w.meeting_body(pairing, AT))
    w.post(f"/meetings/{cancelled['id']}/cancellation", {"reason": "mentee moved units"})
    again = w.post("/meetings", held_at(w, pairing))
    assert again["id"] != cancelled["id"] and again["status"] == "held"
    problem = w.refused("/meetings", held_at(w, pairing), "duplicate_meeting", status=409)
    assert named(problem) == [{"meeting_id": again["id"], "status": "held"}]


def test_a_missed_meeting_keeps_its_time(world: World) -> None:
    """Only a cancellation frees the time: a meeting recorded as missed happened (a no-show)."""
    w = world
    pairing = solo(w)
    missed = w.post("/meetings", w.meeting_body(pairing, AT))
    w.post(f"/meetings/{missed['id']}/missed", {"no_show_by": "mentee"})
    problem = w.refused("/meetings", held_at(w, pairing), "duplicate_meeting", status=409)
    assert named(problem) == [{"meeting_id": missed["id"], "status": "missed"}]


def test_another_pairing_or_another_time_is_a_meeting_of_its_own(world: World) -> None:
    """The same mentor meets another mentee at the same time (another pairing), and the same
    pairing once the first meeting is over: both are recorded."""
    w = world
    mentor = w.mentor("mentor-a")
    one = w.pair(mentor, [w.enrol()], "2026-10-01T15:00:00Z")
    other = w.pair(mentor, [w.enrol(name="Bo")], "2026-10-01T15:00:00Z")
    first = w.post("/meetings", held_at(w, one))
    second = w.post("/meetings", held_at(w, other))
    later = w.post("/meetings", held_at(w, one, "2026-11-03T18:55:00-06:00"))
    assert len({first["id"], second["id"], later["id"]}) == 3
    assert len(meetings_of(w, one)) == 2 and meetings_of(w, other) == [second["id"]]


def test_two_identical_meetings_decided_at_once_are_recorded_once(world: World) -> None:
    """Both requests read the pairing before either appends: the pairing's version lets one
    in; the other is decided again on the state the first left, and refused for what it is."""
    w = world
    pairing = solo(w)

    def tap() -> Any:
        return w.client.post(w.base + "/meetings", json=held_at(w, pairing), headers=w.headers())

    answers = race(w.db, w.slug, tap, tap)
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    won = next(r for r in answers if r.status_code == 201).json()
    lost = next(r for r in answers if r.status_code == 409).json()
    assert lost["code"] == "duplicate_meeting"
    assert named(lost) == [{"meeting_id": won["id"], "status": "held"}]
    assert meetings_of(w, pairing) == [won["id"]]


def test_two_taps_with_one_key_decided_at_once_are_both_answered_with_the_meeting(
    world: World,
) -> None:
    """A retry in flight with the first request's key: the loser is refused on the winner's
    state, and, the key having committed meanwhile, answered with the winner's replay."""
    w = world
    pairing = solo(w)
    h = {**w.headers(), "Idempotency-Key": "tap-twice"}

    def tap() -> Any:
        return w.client.post(w.base + "/meetings", json=held_at(w, pairing), headers=h)

    answers = race(w.db, w.slug, tap, tap)
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in answers) == ["", "true"]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert meetings_of(w, pairing) == [answers[0].json()["id"]]


# -- the batch endpoint ----------------------------------------------------------------------


def test_a_batch_refuses_a_duplicate_meeting_per_item(world: World) -> None:
    """Two identical items (their own keys) and one repeating a meeting recorded before the
    batch: each duplicate is refused alone with the single endpoint's problem; the rest commit."""
    w = world
    pairing = solo(w)
    before = w.post("/meetings", held_at(w, pairing, "2026-11-10T18:00:00-06:00"))
    count = w.events()
    out = send(
        w,
        [
            item("meeting.schedule", "m-1", held_at(w, pairing)),
            item("meeting.schedule", "m-2", held_at(w, pairing)),
            item("meeting.schedule", "m-3", held_at(w, pairing, "2026-11-10T18:00:00-06:00")),
            item("meeting.schedule", "m-4", held_at(w, pairing, "2026-11-17T18:00:00-06:00")),
        ],
    )
    assert [i["status"] for i in out["items"]] == [201, 409, 409, 201]
    first = out["items"][0]["id"]
    twin, repeat = out["items"][1]["problem"], out["items"][2]["problem"]
    assert (twin["code"], twin["type"]) == (
        "duplicate_meeting",
        "urn:prowd:problem:duplicate_meeting",
    )
    assert named(twin) == [{"meeting_id": first, "status": "held"}]
    assert named(repeat) == [{"meeting_id": before["id"], "status": "held"}]
    assert (out["accepted"], out["refused"]) == (2, 2)
    assert sorted(meetings_of(w, pairing)) == sorted([before["id"], first, out["items"][3]["id"]])
    # Two meetings, each Scheduled, Held and booked on the pairing; the earlier of them is
    # now the pairing's first meeting.
    assert w.events() == count + 7


def test_a_batch_item_retried_with_its_key_is_replayed_not_refused(world: World) -> None:
    """An item whose key answered before (a single request, or an earlier item of the batch)
    is answered again, whatever the meeting rule would say of it now."""
    w = world
    pairing = solo(w)
    h = {**w.headers(), "Idempotency-Key": "tap-1"}
    single = w.client.post(w.base + "/meetings", json=held_at(w, pairing), headers=h)
    assert single.status_code == 201, single.text
    count = w.events()
    out = send(
        w,
        [
            item("meeting.schedule", "tap-1", held_at(w, pairing)),
            item("meeting.schedule", "tap-2", held_at(w, pairing, "2026-11-17T18:00:00-06:00")),
            item("meeting.schedule", "tap-2", held_at(w, pairing, "2026-11-17T18:00:00-06:00")),
        ],
    )
    assert [i["status"] for i in out["items"]] == [201, 201, 201]
    assert [i.get("replayed", False) for i in out["items"]] == [True, False, True]
    assert out["items"][0]["id"] == single.json()["id"]
    assert out["items"][2]["id"] == out["items"][1]["id"]
    assert w.events() == count + 3


def test_the_contract_declares_the_refusal(client: Any) -> None:
    spec = client.get("/schema/openapi.json").json()
    op = spec["paths"]["/v1/grantees/{grantee}/meetings"]["post"]
    examples = op["responses"]["409"]["content"]["application/problem+json"]["examples"]
    assert "duplicate_meeting" in {e["value"]["code"] for e in examples.values()}


# -- the rule, without a database ------------------------------------------------------------

WHEN = datetime(2026, 11, 4, 0, tzinfo=UTC)


def schedule(pairing: Pairing, booked: Meeting | None = None, at: datetime = WHEN) -> Meeting:
    return Meeting.schedule(
        pairing=pairing,
        scheduled_for=at,
        planned_minutes=60,
        location=OFF_SITE_LOCATION,
        week="2026-W45",
        booked=booked,
    )


def test_a_pairing_knows_the_time_of_each_of_its_meetings() -> None:
    pairing = open_pairing([uuid4()])
    meeting = schedule(pairing)
    assert [type(e).__name__ for e in pairing.collect_events()][-1] == "MeetingBooked"
    # The instant, whatever offset it is written with.
    assert pairing.meeting_at(WHEN.astimezone(ZoneInfo("America/Chicago"))) == meeting.id
    assert pairing.meeting_at(WHEN + timedelta(minutes=1)) is None


def test_a_second_meeting_at_that_time_is_refused_until_the_first_is_cancelled() -> None:
    pairing = open_pairing([uuid4()])
    first = schedule(pairing)
    version = pairing.version
    with pytest.raises(DuplicateMeeting) as refused:
        schedule(pairing, first)
    assert isinstance(refused.value, AlreadyExists) and refused.value.code == "duplicate_meeting"
    assert named({"existing": refused.value.existing}) == [
        {"meeting_id": str(first.id), "status": "scheduled"}
    ]
    assert pairing.version == version, "a refused meeting changed the pairing"
    first.cancel("lockdown", True, "2026-W45")
    assert first.status is MeetingStatus.CANCELLED
    second = schedule(pairing, first)
    assert pairing.meeting_at(WHEN) == second.id
    with pytest.raises(DuplicateMeeting):
        schedule(pairing, second)


def test_the_meeting_the_pairing_has_at_that_time_must_be_given() -> None:
    """A caller that does not load the meeting the pairing names is a programming error."""
    pairing = open_pairing([uuid4()])
    first = schedule(pairing)
    with pytest.raises(ValueError):
        schedule(pairing)
    with pytest.raises(ValueError):
        schedule(pairing, schedule(open_pairing([uuid4()])))
    assert pairing.meeting_at(WHEN) == first.id


# -- overlapping spans (decision 146) ----------------------------------------------------------

TEN = "2026-11-05T10:00:00-06:00"


def held_for(w: World, pairing: str, at: str, minutes: int) -> dict[str, Any]:
    return w.meeting_body(pairing, at, record=held(at, minutes, summary="resume"))


def test_a_retyped_time_overlapping_a_held_meeting_is_refused_naming_it(world: World) -> None:
    """The retry with a retyped time: half a second later, or five minutes later for an hour,
    overlaps the meeting held from 10:00 for 30 minutes; each is 409 `duplicate_meeting` naming
    that meeting's id and span, and appends nothing. A meeting from 10:30 (back to back) is
    its own."""
    w = world
    pairing = solo(w)
    first = w.post("/meetings", held_for(w, pairing, TEN, 30))
    starts, ends = "2026-11-05T16:00:00+00:00", "2026-11-05T16:30:00+00:00"
    expected = [{"meeting_id": first["id"], "status": "held", "starts_at": starts, "ends_at": ends}]
    for at, minutes in (("2026-11-05T10:00:00.5-06:00", 30), ("2026-11-05T10:05:00-06:00", 60)):
        problem = w.refused(
            "/meetings", held_for(w, pairing, at, minutes), "duplicate_meeting", status=409
        )
        assert problem["type"] == "urn:prowd:problem:duplicate_meeting"
        assert problem["existing"] == expected
        assert first["id"] in problem["detail"] and starts in problem["detail"]
    # An earlier meeting running into it overlaps too.
    w.refused(
        "/meetings",
        held_for(w, pairing, "2026-11-05T09:00:00-06:00", 61),
        "duplicate_meeting",
        status=409,
    )
    after = w.post("/meetings", held_for(w, pairing, "2026-11-05T10:30:00-06:00", 30))
    before = w.post("/meetings", held_for(w, pairing, "2026-11-05T09:00:00-06:00", 60))
    assert sorted(meetings_of(w, pairing)) == sorted([before["id"], first["id"], after["id"]])


def test_a_scheduled_meeting_holds_its_planned_span_until_cancelled(world: World) -> None:
    """Planned for an hour from 10:00, a meeting keeps 10:30 taken (scheduled or held); once
    cancelled, its span is free."""
    w = world
    pairing = solo(w)
    planned = w.post("/meetings", {**w.meeting_body(pairing, TEN), "planned_minutes": 60})
    half = "2026-11-05T10:30:00-06:00"
    problem = w.refused("/meetings", w.meeting_body(pairing, half), "duplicate_meeting", status=409)
    assert problem["existing"][0]["meeting_id"] == planned["id"]
    w.refused("/meetings", held_for(w, pairing, half, 20), "duplicate_meeting", status=409)
    w.post(f"/meetings/{planned['id']}/cancellation", {"reason": "lockdown"})
    assert w.post("/meetings", held_for(w, pairing, half, 20))["status"] == "held"


def test_holding_a_scheduled_meeting_over_another_is_refused(world: World) -> None:
    """A meeting scheduled for the afternoon, recorded as held at a time another meeting of
    the pairing took, is refused; held at its own time it is recorded."""
    w = world
    pairing = solo(w)
    first = w.post("/meetings", held_for(w, pairing, TEN, 30))
    later = w.post("/meetings", w.meeting_body(pairing, "2026-11-05T14:00:00-06:00"))
    problem = w.refused(
        f"/meetings/{later['id']}/held",
        held("2026-11-05T10:15:00-06:00", 30),
        "duplicate_meeting",
        status=409,
    )
    assert problem["existing"][0]["meeting_id"] == first["id"]
    done = w.post(f"/meetings/{later['id']}/held", held("2026-11-05T14:00:00-06:00", 45))
    assert done["status"] == "held"


def test_an_amendment_moving_a_meeting_over_another_is_refused(world: World) -> None:
    """An amendment may correct a meeting in its own span (it is not compared with itself),
    not move it over another meeting of the pairing."""
    w = world
    pairing = solo(w)
    first = w.post("/meetings", held_for(w, pairing, TEN, 30))
    later = w.post("/meetings", held_for(w, pairing, "2026-11-05T14:00:00-06:00", 30))
    problem = w.refused(
        f"/meetings/{later['id']}/amendments",
        {"reason": "typed the wrong time", "record": held("2026-11-05T10:15:00-06:00", 30)},
        "duplicate_meeting",
        status=409,
    )
    assert problem["existing"][0]["meeting_id"] == first["id"]
    fixed = w.post(
        f"/meetings/{first['id']}/amendments",
        {"reason": "it ran longer", "record": held(TEN, 45)},
    )
    assert fixed["held"]["duration_minutes"] == 45


def test_two_overlapping_meetings_decided_at_once_are_recorded_once(world: World) -> None:
    """At two different instants, overlapping: the pairing's version lets one in, the other
    is decided again and refused."""
    w = world
    pairing = solo(w)

    def tap(at: str) -> Any:
        body = held_for(w, pairing, at, 30)
        return lambda: w.client.post(w.base + "/meetings", json=body, headers=w.headers())

    answers = race(w.db, w.slug, tap(TEN), tap("2026-11-05T10:00:00.5-06:00"))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    won = next(r for r in answers if r.status_code == 201).json()
    lost = next(r for r in answers if r.status_code == 409).json()
    assert lost["existing"][0]["meeting_id"] == won["id"]
    assert meetings_of(w, pairing) == [won["id"]]


def test_a_batch_refuses_an_overlapping_meeting_per_item(world: World) -> None:
    w = world
    pairing = solo(w)
    out = send(
        w,
        [
            item("meeting.schedule", "o-1", held_for(w, pairing, TEN, 30)),
            item("meeting.schedule", "o-2", held_for(w, pairing, "2026-11-05T10:05:00-06:00", 60)),
            item("meeting.schedule", "o-3", held_for(w, pairing, "2026-11-05T10:30:00-06:00", 30)),
        ],
    )
    assert [i["status"] for i in out["items"]] == [201, 409, 201]
    refused = out["items"][1]["problem"]
    assert refused["code"] == "duplicate_meeting"
    assert refused["existing"][0]["meeting_id"] == out["items"][0]["id"]


def test_overlap_is_decided_by_the_spans_without_a_database() -> None:
    pairing = open_pairing([uuid4()])
    first = schedule(pairing)  # 00:00 UTC for an hour
    with pytest.raises(DuplicateMeeting) as refused:
        check_no_overlap(WHEN + timedelta(seconds=0.5), 30, [first])
    assert refused.value.existing[0]["ends_at"] == "2026-11-04T01:00:00+00:00"
    with pytest.raises(DuplicateMeeting):
        check_no_overlap(WHEN - timedelta(minutes=30), 31, [first])
    check_no_overlap(WHEN + timedelta(hours=1), 30, [first])
    check_no_overlap(WHEN - timedelta(minutes=30), 30, [first])
    check_no_overlap(WHEN, 30, [first], itself=first.id)
    first.cancel("lockdown", True, "2026-W45")
    check_no_overlap(WHEN, 30, [first])
    assert pairing.meetings_near(WHEN, WHEN + timedelta(minutes=30)) == [first.id]
    assert pairing.meetings_near(WHEN + timedelta(days=2), WHEN + timedelta(days=2)) == []


# -- holds and amendments decided at once (decision 148) --------------------------------------

MORNING, AFTERNOON = "2026-11-05T08:00:00-06:00", "2026-11-05T16:00:00-06:00"
NOON, NOON_TEN = "2026-11-05T12:00:00-06:00", "2026-11-05T12:10:00-06:00"


@dataclasses.dataclass
class Cold:
    """The API as a process that keeps no aggregates between commands (as another API
    process that never read these meetings): what a command reads comes from the log,
    unchecked at its write, so only what it saves (the pairing) serialises two commands."""

    client: TestClient[Litestar]
    db: Database


@pytest.fixture
def cold(settings: Settings) -> Iterator[Cold]:
    configured = dataclasses.replace(settings, aggregate_cache_size=0)
    db = Database(str(settings.database_url), configured, name="prowd-cold-test").open()
    try:
        with TestClient(create_app(configured, db)) as client:
            yield Cold(client, db)
    finally:
        db.close()


def one_wins(answers: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Of two answers, one recorded and one 409 `duplicate_meeting` naming the winner's
    meeting: the winner's record and the loser's problem."""
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    won = next(r for r in answers if r.status_code == 201).json()
    lost = next(r for r in answers if r.status_code == 409).json()
    assert lost["code"] == "duplicate_meeting"
    assert lost["existing"][0]["meeting_id"] == won["id"]
    return won, lost


def test_two_holds_over_one_time_decided_at_once_record_one(world: World, cold: Cold) -> None:
    """Two meetings planned for the morning and the afternoon, each recorded as held at noon
    (ten minutes apart, half an hour each) by two requests decided at once: each alone is
    free of the other's planned span, together they overlap. Holding a meeting records its
    time on the pairing, saved with it, so one wins the pairing's version and the other is
    decided again and refused; it stays scheduled."""
    w = world
    pairing = solo(w)
    # Met already the day before: neither hold is the first meeting (which saves the pairing).
    before = w.post("/meetings", held_for(w, pairing, "2026-11-04T10:00:00-06:00", 30))
    morning = w.post("/meetings", {**w.meeting_body(pairing, MORNING), "planned_minutes": 30})
    afternoon = w.post("/meetings", {**w.meeting_body(pairing, AFTERNOON), "planned_minutes": 30})

    def hold(meeting: dict[str, Any], at: str) -> Any:
        body = held(at, 30, summary="resume")
        path = f"{w.base}/meetings/{meeting['id']}/held"
        return lambda: cold.client.post(path, json=body, headers=w.headers())

    events = w.events()
    answers = race(cold.db, w.slug, hold(morning, NOON), hold(afternoon, NOON_TEN))
    won, _ = one_wins(answers)
    statuses = {m["id"]: m["status"] for m in w.log(pairing)}
    loser = afternoon["id"] if won["id"] == morning["id"] else morning["id"]
    assert statuses == {before["id"]: "held", won["id"]: "held", loser: "scheduled"}
    # The winner's hold and its time on the pairing, nothing of the loser's.
    assert w.events() == events + 2
    assert w.topics_of(pairing)[-1] == "MeetingHeldTimeRecorded"


def test_two_amendments_over_one_time_decided_at_once_record_one(world: World, cold: Cold) -> None:
    """Two held meetings, morning and afternoon, each moved to noon by an amendment, the two
    decided at once: one is moved, the other refused and left where it was."""
    w = world
    pairing = solo(w)
    morning = w.post("/meetings", held_for(w, pairing, MORNING, 30))
    afternoon = w.post("/meetings", held_for(w, pairing, AFTERNOON, 30))

    def amend(meeting: dict[str, Any], at: str) -> Any:
        body = {"reason": "typed the wrong time", "record": held(at, 30, summary="resume")}
        path = f"{w.base}/meetings/{meeting['id']}/amendments"
        return lambda: cold.client.post(path, json=body, headers=w.headers())

    answers = race(cold.db, w.slug, amend(morning, NOON), amend(afternoon, NOON_TEN))
    won, _ = one_wins(answers)
    loser, was = (afternoon, AFTERNOON) if won["id"] == morning["id"] else (morning, MORNING)
    moved = {m["id"]: datetime.fromisoformat(m["occurred_at"]) for m in w.log(pairing)}
    assert moved[loser["id"]] == datetime.fromisoformat(was)
    assert moved[won["id"]] in {datetime.fromisoformat(NOON), datetime.fromisoformat(NOON_TEN)}


def test_an_amendment_that_keeps_the_span_records_no_time_on_the_pairing(world: World) -> None:
    """Only a hold, or an amendment that moves or resizes the span, takes the pairing: a
    corrected summary does not."""
    w = world
    pairing = solo(w)
    met = w.post("/meetings", held_for(w, pairing, MORNING, 30))
    before = w.topics_of(pairing)
    w.post(
        f"/meetings/{met['id']}/amendments",
        {"reason": "summary typo", "record": held(MORNING, 30, summary="resume, revised")},
    )
    assert w.topics_of(pairing) == before
    w.post(
        f"/meetings/{met['id']}/amendments",
        {"reason": "it ran longer", "record": held(MORNING, 45, summary="resume, revised")},
    )
    assert w.topics_of(pairing) == [*before, "MeetingHeldTimeRecorded"]


def test_a_pairing_finds_a_meeting_by_the_time_it_was_held() -> None:
    """A meeting held far from its booked time is among those near its held span."""
    pairing = open_pairing([uuid4()])
    first = schedule(pairing)  # booked 2026-11-04 00:00 UTC
    later = WHEN + timedelta(days=3)
    assert pairing.meetings_near(later, later + timedelta(minutes=30)) == []
    pairing.record_held_time(first.id, later)
    assert pairing.meetings_near(later, later + timedelta(minutes=30)) == [first.id]
    assert pairing.meetings_near(WHEN, WHEN) == [first.id]  # once, though booked and held
