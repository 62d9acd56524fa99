"""The live projector's write-back (decision 90): each view's rows for a batch in memory,
loaded and written with a few statements per table, equal to one statement per operation.

Operation by operation against `SqlWriter` on rows that already exist (the toy tables of
tests/test_row_ops.py), a batch holding an event a view refuses, the statements a batch
sends (libpq's own trace), and the webhook outbox fed in the same pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import sql
from structlog.testing import capture_logs

from projections.base import Tables
from projections.ops import (
    EXCLUDED as EXCLUDED_,
)
from projections.ops import (
    IS_NULL,
    Append,
    Col,
    Contains,
    Erase,
    Inc,
    JsonPut,
    Ref,
    SortedAdd,
    SqlWriter,
    Src,
    Writer,
)
from projections.ops.batch import BatchStore, TooDeep
from services.projector import live as projector
from services.projector import rebuilds
from services.store.database import Database
from services.webhooks import outbox
from tests.conftest import count_events
from tests.pgtrace import traced
from tests.test_projection_faults import goal, overflowing_progress  # noqa: F401
from tests.test_row_ops import T1, T2, A, B, C, Toy, script
from tests.webhooks_helpers import Clock, Hooks

# Each a step of its own (one "event"): the later ones read what the earlier ones wrote.
LATER: list[Callable[[Writer], Any]] = [
    lambda w: w.update("things", {"n": Inc(5), "tags": SortedAdd("d")}, id=1),
    lambda w: w.get("things", ("n", "tags", "flags"), id=1),
    lambda w: sorted(w.select("things", ("id", "n"), owner=C)),
    lambda w: w.update("things", {"label": Erase("[gone]")}, owner=C),
    lambda w: w.update("things", {"flags": JsonPut("k", 1)}, ids=Contains(A)),
    lambda w: sorted(w.select("links", ("group_id", "member"), left_at=IS_NULL)),
    lambda w: w.update("links", {"weight": Inc(1)}, member=B, left_at=IS_NULL),
    lambda w: w.insert("things", {"id": 5, "owner": B, "label": "five"}),
    lambda w: w.insert("things", {"id": 2, "label": "not again"}, on_conflict="nothing"),
    lambda w: w.insert("groups", {"group_id": 2, "lead": C}, on_conflict={"lead": C}),
    lambda w: w.update("things", {"owner": Ref("groups", "lead", {"group_id": Col("group_id")})}),
    lambda w: w.insert(
        "links",
        {"group_id": 7, "member": Src("member"), "weight": Src("weight")},
        source=("links", {"group_id": 1}),
    ),
    lambda w: w.update("things", {"ids": Append(B)}, id=Ref("links", "weight", {"group_id": 9})),
    lambda w: w.update("things", {"id": 40}, id=4),
    lambda w: w.update("things", {"first_at": T2}, id=40),
    lambda w: w.delete("links", group_id=1, member=A),
    lambda w: w.delete("things", owner=B),
    lambda w: w.update("links", {"left_at": T1}, returning="weight", group_id=7),
    lambda w: sorted(w.select("things", ("id", "owner", "label"))),
    lambda w: w.get("groups", ("members",), lead=C),
]


@pytest.fixture
def toy(db: Database) -> Iterator[tuple[Toy, Any]]:
    """Two builds of the toy tables in this session's temporary schema."""
    toy = Toy()
    with db.connection() as conn:
        with conn.transaction(), conn.cursor() as cur:
            for build in (1, 2):
                toy.drop(cur, Tables("pg_temp", build))
                toy.create(cur, Tables("pg_temp", build))
        try:
            yield toy, conn
        finally:
            with conn.transaction(), conn.cursor() as cur:
                for build in (1, 2):
                    toy.drop(cur, Tables("pg_temp", build))


def _names(cur: Any, t: Tables) -> dict[str, str]:
    return {table: t[table].as_string(cur) for table in Toy.tables}


def _batch(cur: Any, t: Tables, steps: list[Callable[[Writer], Any]]) -> tuple[list[Any], Any]:
    """Run `steps` as one batch through the write-back; what each step answered in the pass
    that was written, and the store."""
    answers: list[Any] = []

    def step(store: Writer, _: Any, n: int) -> None:
        if n == 0:
            answers.clear()
        answers.append(steps[n](store))

    store = BatchStore(Toy.specs, "pg_temp")
    store.run(cur, _names(cur, t), [(step, None, n) for n in range(len(steps))])
    store.flush(cur, _names(cur, t))
    return answers, store


def test_the_write_back_equals_a_statement_per_operation_on_rows_that_exist(toy):
    projection, conn = toy
    live, batched = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with conn.transaction(), conn.cursor() as cur:
        # The same rows in both builds, written statement by statement.
        for t in (live, batched):
            script(SqlWriter(cur, t, projection.specs))
        assert projection.digest(cur, batched) == projection.digest(cur, live)
        writer = SqlWriter(cur, live, projection.specs)
        expected = [step(writer) for step in LATER]
        answers, store = _batch(cur, batched, LATER)
        assert answers == expected
        assert projection.digest(cur, batched) == projection.digest(cur, live)
        # Rows a step found by their key were loaded with the others of their table, in few
        # statements: one a table per pass, the later passes for keys found in loaded rows.
        assert store.passes <= 4 and store.loads <= 3 * len(Toy.tables)
    # Values spelled out, so that both agreeing on a wrong answer would show.
    assert expected[2] == [(2, 1)]
    assert expected[-2][0][0] == 1 and 40 in [r[0] for r in expected[-2]]


def test_the_write_back_of_a_whole_script_from_empty_tables_equals_the_statements(toy):
    projection, conn = toy
    live, batched = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with conn.transaction(), conn.cursor() as cur:
        expected = script(SqlWriter(cur, live, projection.specs))
        answers, _ = _batch(cur, batched, [script])
        assert answers == [expected]
        assert projection.digest(cur, batched) == projection.digest(cur, live)


def test_an_insert_of_a_key_the_table_holds_is_refused_as_the_statement_is(toy):
    """A plain insert takes a key not loaded as absent (no load); the INSERT that writes it
    back is refused if it was not, as the statement would have been."""
    import psycopg

    projection, conn = toy
    with conn.transaction(), conn.cursor() as cur:
        t = Tables("pg_temp", 1)
        SqlWriter(cur, t, projection.specs).insert("things", {"id": 1})
        _, store = _batch(cur, t, [lambda w: w.insert("things", {"id": 2})])
        assert store.passes == 1 and store.loads == 0
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            _batch(cur, t, [lambda w: w.insert("things", {"id": 1, "label": "twice"})])
        cur.execute(sql.SQL("SELECT id, label FROM {} ORDER BY id").format(t["things"]))
        assert cur.fetchall() == [(1, None), (2, None)]


def test_a_batch_that_keeps_missing_rows_is_refused(toy):
    """Each look-up's key is the value found by the one before: one pass per level, up to
    the limit; the projector then applies the batch statement by statement."""
    projection, conn = toy
    with conn.transaction(), conn.cursor() as cur:
        writer = SqlWriter(cur, Tables("pg_temp", 1), projection.specs)
        for n in range(1, 12):
            writer.insert("things", {"id": n, "maybe": n + 1})

        def chase(w: Writer) -> None:
            n = 1
            while (row := w.get("things", ("maybe",), id=n)) is not None:
                n = row[0]

        with pytest.raises(TooDeep):
            _batch(cur, Tables("pg_temp", 1), [chase])


def test_a_batch_sends_a_bounded_number_of_statements_whatever_its_events(
    settings, database_url, client, auth, grantee, enrol
):
    """The statements of one catch-up (libpq's trace of a one-connection pool), for a batch of
    a few events and for one of ten times as many of the same kinds."""
    schema = f"g_{grantee}"
    own = dataclasses.replace(settings, pool_min=1, pool_max=1)
    db = Database(database_url, own, name="prowd-traced-projector").open()
    h = auth("case_manager", grantee)
    body = {"to_stage": 3, "placement": "community", "occurred_at": "2026-03-01T00:00:00Z"}

    def events(participants: int) -> None:
        for _ in range(participants):
            pid = enrol()["id"]
            url = f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions"
            assert client.post(url, json=body, headers=h).status_code == 201

    try:
        projector.drain(db, schema)
        sent = []
        for participants in (3, 30):
            events(participants)
            with traced(db, 1) as transactions, capture_logs() as logs:
                applied = projector.catch_up(db, schema)
            assert applied >= 2 * participants
            assert not [e for e in logs if e["event"] == "projector_batch_by_statements"]
            [statements] = transactions
            sent.append(len(statements))
            # One tracking write for every view.
            assert sum(s.startswith("UPDATE") and ".tracking" in s for s in statements) == 1
        few, many = sent
        # Statement by statement, the larger batch alone would be 200 statements and more.
        assert many <= few + 6, sent
        assert many < 60, sent
    finally:
        db.close()


def test_a_batch_holding_an_event_a_view_refuses_isolates_it_and_applies_the_rest(
    app,
    client,
    auth,
    db,
    grantee,
    goal,  # noqa: F811
    enrol,
):
    schema = f"g_{grantee}"
    h = auth("coordinator", grantee)
    projector.drain(db, schema)
    url = f"/v1/grantees/{grantee}/goals/{goal['id']}/progress"
    progress = {"note": "sent one", "evidence": "email", "percent": 30}
    assert client.post(url, json=progress, headers=h).status_code in (200, 201)
    overflowing_progress(app, grantee, goal["id"])
    progress = {"note": "sent two", "evidence": "emails", "percent": 60}
    assert client.post(url, json=progress, headers=h).status_code in (200, 201)
    late = enrol(first_name="Late")
    with capture_logs() as logs:
        assert projector.catch_up(db, schema) == 4
    # The write-back could not take the batch; the statements isolated the one event.
    assert [e["event"] for e in logs if e["event"] == "projector_batch_by_statements"] == [
        "projector_batch_by_statements"
    ]
    assert [e["view"] for e in logs if e["event"] == "projection_fault"] == ["goals"]
    # Every view is at the log's head (positions may skip a number: an append that failed, such
    # as a command rerun after its cached record proved stale, used one up).
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    assert projector.lowest_position(db, schema) == late["position"] == head
    r = client.get(f"/v1/grantees/{grantee}/goals", headers=h)
    [row] = [g for g in r.json()["items"] if g["id"] == goal["id"]]
    assert (row["last_percent"], row["progress_count"]) == (60, 2)
    live = projector.digests(db, schema)
    rebuilds.rebuild_views(db, schema)
    assert projector.digests(db, schema) == live


def _world(client: Any, auth: Any, db: Database) -> tuple[Hooks, str, str, str]:
    hooks = Hooks(client, auth, db)
    p1, pairing1 = hooks.paired("RRC-1")
    _, pairing2 = hooks.paired("RRC-2")
    ep = hooks.endpoint("https://127.0.0.1:9/hook")
    return hooks, p1, pairing1, pairing2 + "|" + ep["id"]


def _steps(hooks: Hooks, p1: str, pairing1: str, pairing2: str) -> None:
    hooks.held_meeting(pairing2)
    hooks.held_meeting(pairing1)
    hooks.post(
        f"/participants/{p1}/stage-transitions",
        {"to_stage": 3, "placement": "community", "occurred_at": "2026-09-20T09:00:00Z"},
    )
    hooks.meet(pairing1, "2026-09-21T15:00:00Z")
    hooks.meet(pairing1, "2026-09-19T15:00:00Z")


def test_the_outbox_fed_by_the_views_pass_writes_what_it_writes_alone(local_client, auth, db):
    clock = Clock()
    alone, fed = (_world(local_client, auth, db) for _ in range(2))
    for hooks, *_ in (alone, fed):
        projector.drain(hooks.db, hooks.schema)
        outbox.drain(db, hooks.schema, now=clock)
    for hooks, p1, pairing1, rest in (alone, fed):
        _steps(hooks, p1, pairing1, rest.split("|")[0])
    outbox.drain(db, alone[0].schema, now=clock)
    projector.drain(db, alone[0].schema)

    hooks = fed[0]
    follower = outbox.Follower(db, now=clock)
    with capture_logs() as logs:
        projector.drain(db, hooks.schema, follower=follower)
    assert follower.current
    assert not [e for e in logs if e["event"] in ("webhook_outbox_failed",)]
    head = count_events(db, hooks.slug)
    assert outbox.position(db, hooks.schema) == head
    # Exactly once: the outbox alone finds nothing more to do.
    assert outbox.drain(db, hooks.schema, now=clock) == 0

    def shape(world: tuple[Hooks, str, str, str]) -> list[tuple[Any, ...]]:
        endpoint = world[3].split("|")[1]
        return [(r[1], r[2], r[4]) for r in world[0].deliveries(endpoint)]

    assert shape(fed) == shape(alone)
    assert [r[2] for r in shape(fed)] == ["meeting.held", "participant.left_rrc", "meeting.held"]


def test_the_outbox_behind_the_views_is_left_to_catch_up_alone(local_client, auth, db):
    hooks, p1, pairing1, rest = _world(local_client, auth, db)
    _steps(hooks, p1, pairing1, rest.split("|")[0])
    projector.drain(db, hooks.schema)  # the views alone: the outbox stays behind
    hooks.held_meeting(pairing1)
    follower = outbox.Follower(db)
    projector.drain(db, hooks.schema, follower=follower)
    assert not follower.current
    assert outbox.position(db, hooks.schema) == 0
    assert outbox.drain(db, hooks.schema) == count_events(db, hooks.slug)


def test_the_views_written_back_equal_a_rebuild_over_a_mixed_log(local_client, auth, db):
    """Mentors, pairings, meetings, moves and webhooks' endpoints in one batch per drain:
    nothing falls back to the statements, and a rebuild gives the same digests."""
    hooks, p1, pairing1, rest = _world(local_client, auth, db)
    _steps(hooks, p1, pairing1, rest.split("|")[0])
    with capture_logs() as logs:
        projector.drain(db, hooks.schema)
    assert not [e for e in logs if e["event"] == "projector_batch_by_statements"]
    live = projector.digests(db, hooks.schema)
    rebuilds.rebuild_views(db, hooks.schema)
    assert projector.digests(db, hooks.schema) == live
    with db.transaction() as cur:
        t = Tables(hooks.schema, projector.active_build(cur, hooks.schema, "meetings"))
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(t["meetings"]))
        assert cur.fetchone()[0] == 4


def test_the_worker_feeds_the_outbox_from_the_views_pass(local_client, auth, db):
    """The worker's catch-up of a grantee whose outbox is in step with its views: both reach
    the head in the same transactions, the outbox's deliveries as it writes them alone."""
    from services.runners.projection import ProjectionWorker

    hooks, p1, pairing1, rest = _world(local_client, auth, db)
    worker = ProjectionWorker(db)
    worker._catch_up(hooks.slug)  # in step: the outbox caught up on its own
    _steps(hooks, p1, pairing1, rest.split("|")[0])
    with capture_logs() as logs:
        worker._catch_up(hooks.slug)
    assert not [e for e in logs if e["event"] in ("webhook_outbox_failed", "projection_failed")]
    head = count_events(db, hooks.slug)
    assert projector.lowest_position(db, hooks.schema) == outbox.position(db, hooks.schema) == head
    endpoint = rest.split("|")[1]
    assert [r[4] for r in hooks.deliveries(endpoint)] == [
        "meeting.held",
        "participant.left_rrc",
        "meeting.held",
    ]


def _random_steps(seed: int) -> list[Callable[[Writer], Any]]:
    """A deterministic random sequence of operations over a few keys and owners."""
    import random

    from projections.ops import ADD_EXCLUDED

    rng = random.Random(seed)
    owners = [A, B, C, None]
    out: list[Callable[[Writer], Any]] = []
    for _ in range(16):
        i, o, g = rng.randint(1, 6), rng.choice(owners), rng.randint(1, 3)
        out.append(
            rng.choice(
                [
                    lambda w, i=i, o=o, g=g: w.insert(
                        "things",
                        {"id": i, "owner": o, "group_id": g, "n": 1},
                        on_conflict={"n": ADD_EXCLUDED, "owner": EXCLUDED_},
                    ),
                    lambda w, i=i: w.insert("things", {"id": i}, on_conflict="nothing"),
                    lambda w, i=i: w.update("things", {"n": Inc(3)}, returning="n", id=i),
                    lambda w, o=o: w.update("things", {"maybe": Inc(1), "n": Inc(1)}, owner=o),
                    lambda w, i=i, o=o: w.update("things", {"owner": o}, id=i),
                    lambda w, g=g: w.update("things", {"tags": SortedAdd(str(g))}, group_id=g),
                    lambda w, i=i: w.delete("things", id=i),
                    lambda w, o=o: w.delete("things", owner=o),
                    lambda w, o=o: sorted(w.select("things", ("id", "n", "tags"), owner=o)),
                    lambda w, i=i: w.get("things", ("owner", "n", "maybe"), id=i),
                    lambda w, g=g, o=o: w.insert(
                        "links",
                        {"group_id": g, "member": o or A, "weight": 2},
                        on_conflict={"weight": ADD_EXCLUDED},
                    ),
                    lambda w, o=o: w.update("links", {"left_at": T1}, member=o, left_at=IS_NULL),
                    lambda w, g=g: w.delete("links", group_id=g),
                    lambda w, g=g: sorted(w.select("links", ("member", "weight"), group_id=g)),
                    lambda w, g=g, o=o: w.insert(
                        "groups", {"group_id": g, "members": [o or B]}, on_conflict="nothing"
                    ),
                    lambda w, i=i: w.update(
                        "things",
                        {"ids": Ref("groups", "members", {"group_id": Col("group_id")}, [])},
                        id=i,
                    ),
                ]
            )
        )
    return out


@pytest.mark.parametrize("seed", range(12), ids=lambda s: f"seed{s}")
def test_random_operations_on_rows_that_exist_agree_with_the_statements(toy, seed):
    projection, conn = toy
    live, batched = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with conn.transaction(), conn.cursor() as cur:
        for t in (live, batched):
            script(SqlWriter(cur, t, projection.specs))
        steps = _random_steps(seed)
        writer = SqlWriter(cur, live, projection.specs)
        expected = [step(writer) for step in steps]
        answers, _ = _batch(cur, batched, steps)
        assert answers == expected
        assert projection.digest(cur, batched) == projection.digest(cur, live)
