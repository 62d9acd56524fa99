"""Issue 18, point 4: signed checkpoint heads are delivered to an `audit.checkpoint`
subscriber (a real receiver on 127.0.0.1), and a rewrite of the log that even removes the
platform's own checkpoints contradicts the heads held there: `prowd verify --against FILE`."""

from __future__ import annotations

import json

import psycopg

from services.audit.verify import record_hash
from services.cli.audit import cmd_verify
from services.cli.main import parser
from services.settings import Settings
from tests.webhooks_helpers import Clock, dispatcher, run_until_idle


def run_verify(monkeypatch, database_url, slug, *flags: str) -> int:
    monkeypatch.setenv("PROWD_DATABASE_URL", database_url)
    return cmd_verify(
        parser().parse_args(["verify", "--grantee", slug, *flags]), Settings.from_env()
    )


def as_superuser(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement)


def test_checkpoint_heads_reach_a_subscriber_and_a_quiet_rewrite_contradicts_them(
    hooks, receiver, db, monkeypatch, database_url, capsys, tmp_path
):
    ep = hooks.endpoint(receiver.url, facility="RRC-2", types=["audit.checkpoint"])
    receiver.secrets = [ep["secret"]]
    hooks.resident("RRC-1")
    hooks.fill()  # the outbox consumer learns the subscription from the log
    assert run_verify(monkeypatch, database_url, hooks.slug, "--sign") == 0
    out = capsys.readouterr().out
    assert "queued for 1 audit.checkpoint subscriber(s)" in out
    d = dispatcher(db, Clock())
    try:
        assert run_until_idle(d, hooks.schema) == 1
    finally:
        d.close()
    assert len(receiver.accepted) == 1 and not receiver.rejected
    message = receiver.accepted[0].payload
    assert message["type"] == "audit.checkpoint" and message["sequence"] == 1
    head = message["data"]
    row = db.fetchone(
        f'SELECT notification_id, hash, key_id FROM "{hooks.schema}".checkpoints'
        " ORDER BY notification_id DESC LIMIT 1"
    )
    assert (head["position"], head["hash"], head["kid"]) == (row[0], bytes(row[1]).hex(), row[2])
    assert head["signed_message"] == f"prowd-checkpoint:{hooks.schema}:{row[0]}:{head['hash']}"
    held = tmp_path / "heads.ndjson"
    held.write_text(json.dumps(message) + "\n")
    assert run_verify(monkeypatch, database_url, hooks.slug, "--against", str(held)) == 0
    assert "1 signed head(s) held elsewhere compared" in capsys.readouterr().out

    # A careful rewrite: event 2 changed, every later chain hash recomputed, and the platform's
    # own checkpoints removed. The platform's own verification no longer sees anything...
    s = hooks.schema
    as_superuser(
        database_url,
        f"UPDATE {s}.events SET state = state || '\\x00'::bytea WHERE notification_id = 2",
    )
    rows = db.fetchall(
        f'SELECT notification_id, originator_id, originator_version, topic, state FROM "{s}".events ORDER BY 1'
    )
    previous = b""
    for position, originator_id, version, topic, state in rows:
        previous = record_hash(previous, position, originator_id, version, topic, bytes(state))
        as_superuser(
            database_url,
            f"UPDATE {s}.chain SET hash = '\\x{previous.hex()}'::bytea WHERE notification_id = {position}",
        )
    as_superuser(database_url, f"DELETE FROM {s}.checkpoints")
    assert run_verify(monkeypatch, database_url, hooks.slug) == 0
    capsys.readouterr()
    # ... but the head the subscriber holds contradicts it.
    assert run_verify(monkeypatch, database_url, hooks.slug, "--against", str(held)) == 1
    at = head["position"]
    assert (
        f"{hooks.slug}: tampered at or before position {at}: the log through position {at} does"
        f" not match the signed head held outside the platform at {at}: some record at or before"
        f" position {at} was changed (chain and events alike); no earlier checkpoint: no event"
        " is verified by signature\n" in capsys.readouterr().out
    )
    # A forged head (not signed by a published key) is refused, not believed.
    forged = dict(message, data=dict(head, hash="00" * 32))
    held.write_text(json.dumps(forged))
    assert run_verify(monkeypatch, database_url, hooks.slug, "--against", str(held)) == 2
    assert "not signed by a published key" in capsys.readouterr().err


def test_the_worker_queues_each_checkpoint_it_signs(hooks, receiver, db, settings):
    """The projection worker, not only `prowd verify --sign`, hands its checkpoints on."""
    from services.audit.checkpoints import load_key
    from services.runners.projection import ProjectionWorker

    ep = hooks.endpoint(receiver.url, types=["audit.checkpoint", "meeting.held"])
    hooks.fill()
    ProjectionWorker(db, key=load_key(settings))._catch_up(hooks.slug)
    signed = db.fetchone(f'SELECT max(notification_id) FROM "{hooks.schema}".checkpoints')[0]
    assert signed is not None
    rows = hooks.deliveries(ep["id"])
    assert [(r[1], r[4]) for r in rows] == [(1, "audit.checkpoint")]
    assert json.loads(bytes(rows[0][6]))["data"]["position"] == signed
