"""Read-your-writes waits are woken by the projector's note of each batch it commits
(services/projector/signals.py), with polling kept as the fallback (DESIGN D3)."""

from __future__ import annotations

import threading

from services.projector import live as projector
from services.projector import signals


def noted(listener: signals.ViewSignals, schema: str, seen: int) -> int:
    """The grantee's note counter once it has moved past `seen` (bounded: 20 s)."""
    for _ in range(80):
        listener.wait(schema, seen, 1.0)
        if listener.seen(schema) != seen:
            break
    return listener.seen(schema)


def settled(listener: signals.ViewSignals, schema: str) -> int:
    """The counter once no note has come for half a second (notes arrive after their commit)."""
    seen = listener.seen(schema)
    for _ in range(40):
        listener.wait(schema, seen, 0.5)
        if listener.seen(schema) == seen:
            return seen
        seen = listener.seen(schema)
    return seen


def test_a_batch_committed_is_one_note_and_nothing_applied_is_none(client, db, grantee, enrol):
    schema = f"g_{grantee}"
    listener = signals.of(db)  # the app's start-up attached it
    assert listener is not None and listener.listening.is_set()
    # An enrolment catches the search view up itself (its duplicate check): notes of its own.
    enrol(first_name="Noor")
    before = settled(listener, schema)

    projector.drain(db, schema)
    assert noted(listener, schema, before) == before + 1
    # A catch-up with nothing to apply commits no batch and sends no note.
    projector.drain(db, schema)
    assert settled(listener, schema) == before + 1
    # Another grantee's batch is not this one's note.
    assert listener.seen("g_no_such_grantee") == 0


def test_a_wait_returns_once_the_batch_that_reaches_its_position_commits(
    client, db, grantee, enrol, auth
):
    schema = f"g_{grantee}"
    projector.drain(db, schema)
    enrol(first_name="Noor")
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    assert projector.position_of(db, schema, "caseload") < head
    drained = threading.Timer(0.3, projector.drain, (db, schema))
    drained.start()
    try:
        assert projector.wait_for(db, schema, "caseload", head, 20.0)
    finally:
        drained.join()
    # The same through HTTP: `min_position` waits on the event loop for the note.
    enrol(first_name="Omar")
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    drained = threading.Timer(0.3, projector.drain, (db, schema))
    drained.start()
    try:
        r = client.get(
            f"/v1/grantees/{grantee}/participants",
            params={"min_position": head},
            headers=auth("coordinator", grantee),
        )
    finally:
        drained.join()
    assert r.status_code == 200, r.text
    assert "Omar" in {p["first_name"] for p in r.json()["items"]}


def test_without_the_listener_a_wait_polls(client, db, grantee, enrol):
    schema = f"g_{grantee}"
    listener = signals.of(db)
    assert listener is not None
    signals.detach(db, listener)
    try:
        enrol(first_name="Noor")
        with db.transaction() as cur:
            head = projector.log_head(cur, schema)
        drained = threading.Timer(0.3, projector.drain, (db, schema))
        drained.start()
        try:
            assert projector.wait_for(db, schema, "caseload", head, 20.0)
        finally:
            drained.join()
        # A position never reached ends in a timeout, not a hang.
        assert not projector.wait_for(db, schema, "caseload", head + 1_000, 0.3)
    finally:
        signals.attach(db, listener)


def test_a_second_app_on_the_same_database_leaves_the_first_ones_listener(client, db, settings):
    """Tests build more than one app on one database: the newest app's listener serves while it
    runs, and its stop takes away only its own (the first app's waits keep theirs)."""
    from litestar.testing import TestClient

    from services.api.app import create_app

    first = signals.of(db)
    assert first is not None
    with TestClient(create_app(settings, db)):
        second = signals.of(db)
        assert second is not None and second is not first
    assert signals.of(db) is first
