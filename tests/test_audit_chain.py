"""DESIGN D7: the log is append-only in the database, and a hash chain beside it exposes any
record altered, deleted, inserted or moved behind the service's back (by a superuser who turns
the guard off), both in `prowd verify` and in GET /audit/verification."""

from __future__ import annotations

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization

from services.audit import checkpoints
from services.audit.verify import record_hash
from services.cli.audit import cmd_verify
from services.cli.main import parser
from services.settings import Settings
from tests.conftest import unique_slug


@pytest.fixture
def log(client, auth, db):
    """A grantee with a few events; its schema name."""
    slug = unique_slug("a")
    r = client.post(
        "/v1/grantees",
        json={"slug": slug, "name": "Audit", "grant_number": "FS-0002-26"},
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201
    h = auth("coordinator", slug)
    for code in ("FCI-A", "FCI-B", "FCI-C", "FCI-D"):
        body = {"code": code, "name": code, "kind": "bop_institution"}
        assert (
            client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h).status_code == 201
        )
    return slug, f"g_{slug}"


def verification(client, auth, slug):
    r = client.get(f"/v1/grantees/{slug}/audit/verification", headers=auth("auditor", slug))
    assert r.status_code == 200
    return r.json()


def as_superuser(db, statement: str) -> None:
    """Tamper the way only a superuser can: with the append-only triggers switched off."""
    with psycopg.connect(db.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement)


def run_verify(monkeypatch, database_url, slug, *flags: str) -> int:
    """`prowd verify --grantee SLUG`, as the CLI runs it (without reconfiguring logging)."""
    monkeypatch.setenv("PROWD_DATABASE_URL", database_url)
    return cmd_verify(
        parser().parse_args(["verify", "--grantee", slug, *flags]), Settings.from_env()
    )


def test_an_intact_log_verifies(client, auth, log, monkeypatch, database_url, capsys):
    slug, _ = log
    body = verification(client, auth, slug)
    assert body == {
        "intact": True,
        "checked": 4,
        "head": 4,
        "first_bad_position": None,
        "bad_from": None,
        "bad_through": None,
        "problem": "",
        "verdict": "intact",
        "signed_through": 0,
        "unsigned": 4,
    }
    assert run_verify(monkeypatch, database_url, slug) == 0
    assert (
        f"{slug}: intact but signed nowhere: 4 events (positions 1 through 4) are chained but not"
        " covered by a signature (head 4)\n"
    ) in capsys.readouterr().out


def test_positions_a_refused_write_drew_are_said_not_to_be_missing_events(
    client, auth, log, monkeypatch, database_url, capsys
):
    """A write refused after it drew its position (a second facility FCI-A) leaves a number no
    event takes; the chain still verifies, and `prowd verify` says why the head is higher."""
    slug, _ = log
    h = auth("coordinator", slug)
    twin = {"code": "FCI-A", "name": "again", "kind": "bop_institution"}
    assert client.post(f"/v1/grantees/{slug}/facilities", json=twin, headers=h).status_code == 409
    body = {"code": "FCI-E", "name": "FCI-E", "kind": "bop_institution"}
    assert client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h).status_code == 201
    found = verification(client, auth, slug)
    assert (found["intact"], found["checked"]) == (True, 5)
    assert found["head"] > 5
    skipped = found["head"] - 5
    assert run_verify(monkeypatch, database_url, slug) == 0
    out = capsys.readouterr().out
    assert f"{slug}: intact but signed nowhere: 5 events (positions 1 through" in out
    assert f"not covered by a signature (head {found['head']};" in out
    assert f"{skipped} position{'s' if skipped > 1 else ''} no event took" in out


CHANGES = [
    "UPDATE {s}.events SET topic = topic WHERE notification_id = 2",
    "DELETE FROM {s}.events WHERE notification_id = 2",
    "TRUNCATE {s}.events",
    "UPDATE {s}.chain SET hash = hash",
    "DELETE FROM {s}.chain",
    "TRUNCATE {s}.checkpoints",
    "DELETE FROM prowd.events",
]


@pytest.mark.parametrize("statement", CHANGES)
def test_the_service_role_cannot_change_the_log(db, log, statement):
    """The service's connections act as `prowd_service`, which holds no right to change the
    stored log: the grants refuse it before the trigger is reached."""
    _, schema = log
    assert db.fetchone("SELECT current_user") == ("prowd_service",)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        db.fetchall(statement.format(s=schema))


@pytest.mark.parametrize(
    "statement",
    [
        *CHANGES,
        "INSERT INTO {s}.events (originator_id, originator_version, topic, state)"
        " VALUES (gen_random_uuid(), 1, 'x', '')",
        "INSERT INTO {s}.chain VALUES (999, '')",
        "ALTER TABLE {s}.events DISABLE TRIGGER ALL",
        "DROP TABLE {s}.chain",
        "SELECT prowd.grant_service('{s}')",
    ],
)
def test_a_login_with_the_service_role_cannot_change_the_log(database_url, log, statement):
    """The production shape: the service logs in as a plain role that is a member of
    `prowd_service`, with no way round the grants (no superuser, no ownership)."""
    _, schema = log
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "DO $$ BEGIN CREATE ROLE prowd_test_login LOGIN IN ROLE prowd_service;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    with psycopg.connect(database_url, user="prowd_test_login", autocommit=True) as conn:
        conn.execute("SET ROLE prowd_service")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement.format(s=schema))
        conn.execute("RESET ROLE")  # its own login rights are fewer still
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement.format(s=schema))
        # Reading stays possible as the service role.
        conn.execute("SET ROLE prowd_service")
        assert conn.execute(f"SELECT count(*) FROM {schema}.events").fetchone() == (4,)


@pytest.mark.parametrize("statement", CHANGES[:6])
def test_the_owner_is_refused_by_the_trigger(database_url, log, statement):
    """Even the owner of the log (the migrating login) cannot change it while the append-only
    triggers stand: a superuser must switch them off, which the chain then exposes."""
    _, schema = log
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement.format(s=schema))


def test_the_service_role_appends_only_through_the_log_function(client, auth, db, log):
    """Commands still append (through `append_events`, which runs as the owner) and the chain
    grows with them."""
    slug, schema = log
    before = db.fetchone(f"SELECT count(*) FROM {schema}.chain")
    body = {"code": "FCI-E", "name": "FCI-E", "kind": "bop_institution"}
    r = client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=auth("coordinator", slug))
    assert r.status_code == 201
    assert db.fetchone(f"SELECT count(*) FROM {schema}.chain") == (before[0] + 1,)


@pytest.mark.parametrize(
    ("tamper", "position", "problem"),
    [
        (
            "UPDATE {s}.events SET state = state || '\\x00'::bytea WHERE notification_id = 3",
            3,
            "altered",
        ),
        ("DELETE FROM {s}.events WHERE notification_id = 2", 2, "deleted"),
        (
            "INSERT INTO {s}.events (originator_id, originator_version, topic, state) OVERRIDING SYSTEM VALUE"
            " SELECT originator_id, 99, topic, state FROM {s}.events WHERE notification_id = 1",
            5,
            "inserted",
        ),
        (
            "CREATE TEMP TABLE moved AS SELECT * FROM {s}.events WHERE notification_id IN (2, 3);"
            " DELETE FROM {s}.events WHERE notification_id IN (2, 3);"
            " INSERT INTO {s}.events (notification_id, originator_id, originator_version, topic, state)"
            " OVERRIDING SYSTEM VALUE SELECT 5 - notification_id, originator_id, originator_version, topic, state"
            " FROM moved",
            2,
            "altered or moved",
        ),
    ],
)
def test_each_kind_of_tampering_is_found_at_its_position(
    client, auth, db, log, tamper, position, problem, monkeypatch, database_url, capsys
):
    slug, schema = log
    as_superuser(db, tamper.format(s=schema))
    body = verification(client, auth, slug)
    assert (body["intact"], body["first_bad_position"]) == (False, position)
    assert (body["bad_from"], body["bad_through"]) == (position, position)
    assert problem in body["problem"]
    assert run_verify(monkeypatch, database_url, slug) == 1
    assert f"{slug}: tampered at position {position}" in capsys.readouterr().out


def test_other_roles_cannot_run_the_verification(client, auth, log):
    slug, _ = log
    r = client.get(f"/v1/grantees/{slug}/audit/verification", headers=auth("case_manager", slug))
    assert r.status_code == 403


def test_checkpoints_are_signed_published_and_pin_the_chain(
    client, auth, db, log, monkeypatch, database_url, capsys
):
    """A superuser who rewrites an event AND recomputes every later chain hash escapes the chain
    check, but not the signed checkpoint covering it."""
    slug, schema = log
    assert run_verify(monkeypatch, database_url, slug, "--sign") == 0
    assert "checkpoint signed at position 4" in capsys.readouterr().out
    key = client.get("/v1/audit/public-key").json()
    assert key["algorithm"] == "Ed25519" and "BEGIN PUBLIC KEY" in key["public_key_pem"]
    row = db.fetchone(
        f'SELECT key_id, hash, signature FROM "{schema}".checkpoints WHERE notification_id = 4'
    )
    assert row is not None and row[0] == key["key_id"]
    public = serialization.load_pem_public_key(key["public_key_pem"].encode())
    public.verify(bytes(row[2]), f"prowd-checkpoint:{schema}:4:{bytes(row[1]).hex()}".encode())
    assert verification(client, auth, slug)["intact"] is True

    # Rewrite event 2 and recompute the chain from there, as a careful tamperer would.
    as_superuser(
        db, f"UPDATE {schema}.events SET state = state || '\\x00'::bytea WHERE notification_id = 2"
    )
    rows = db.fetchall(
        f'SELECT notification_id, originator_id, originator_version, topic, state FROM "{schema}".events ORDER BY 1'
    )
    previous = b""
    for position, originator_id, version, topic, state in rows:
        previous = record_hash(previous, position, originator_id, version, topic, bytes(state))
        as_superuser(
            db,
            f"UPDATE {schema}.chain SET hash = '\\x{previous.hex()}'::bytea WHERE notification_id = {position}",
        )
    body = verification(client, auth, slug)
    # Only that some record at or before the checkpoint changed is known, and nothing is proven.
    assert (body["intact"], body["first_bad_position"], body["checked"]) == (False, None, 0)
    assert (body["bad_from"], body["bad_through"]) == (1, 4)
    assert body["problem"].startswith(
        "the log through position 4 does not match the signed checkpoint at 4"
    )
    assert run_verify(monkeypatch, database_url, slug) == 1
    assert f"{slug}: tampered at or before position 4: " in capsys.readouterr().out


def test_a_checkpoint_falls_due_once_per_head(db, log, settings):
    _, schema = log
    key = checkpoints.load_key(settings)
    assert checkpoints.sign_if_due(db, schema, key) == 4  # the first checkpoint is always due
    assert checkpoints.sign_if_due(db, schema, key) is None  # nothing new since
    assert checkpoints.sign_if_due(db, schema, key, force=True) is None  # not even forced


def test_cutting_off_the_end_of_the_log_is_truncation(
    client, auth, db, log, monkeypatch, database_url, capsys
):
    """A superuser deletes the last events and their chain rows (triggers off): what is left
    is a consistent prefix, but a signed checkpoint beyond its head proves the log was longer."""
    slug, schema = log
    assert run_verify(monkeypatch, database_url, slug, "--sign") == 0
    assert "checkpoint signed at position 4" in capsys.readouterr().out
    as_superuser(db, f"DELETE FROM {schema}.events WHERE notification_id >= 3")
    as_superuser(db, f"DELETE FROM {schema}.chain WHERE notification_id >= 3")

    body = verification(client, auth, slug)
    assert body == {
        "intact": False,
        "checked": 2,
        "head": 2,
        "first_bad_position": 3,
        "bad_from": 3,
        "bad_through": 3,
        "problem": "truncated after position 2: a signed checkpoint stands at position 4",
        "verdict": "tampered",
        "signed_through": None,
        "unsigned": None,
    }
    assert run_verify(monkeypatch, database_url, slug) == 1
    out = capsys.readouterr().out
    assert f"{slug}: tampered at position 3: truncated after position 2" in out
    assert "intact" not in out


def test_an_empty_log_with_a_checkpoint_is_truncated(client, auth, db, log, settings):
    """Every event deleted: nothing to recompute, and still not intact."""
    slug, schema = log
    key = checkpoints.load_key(settings)
    assert checkpoints.sign_if_due(db, schema, key) == 4
    as_superuser(db, f"DELETE FROM {schema}.events")
    as_superuser(db, f"DELETE FROM {schema}.chain")
    body = verification(client, auth, slug)
    assert (body["intact"], body["checked"], body["first_bad_position"]) == (False, 0, 1)
    assert body["problem"].startswith("truncated after position 0")
