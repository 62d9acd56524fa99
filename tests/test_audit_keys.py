"""Issue 18: an auditor verifies alone. Audit keys have ids and validity and are all published;
a rotation mid-log leaves the log intact to `prowd verify` with public keys only; a checkpoint
signed by an unpublished key or outside its key's validity has its own verdict and exit code;
the offline audit kit is checked by the standalone verifier in tools/ (the four tamper kinds
included), and the hashing rule's worked example in docs/audit.md is the code's."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import TestClient
from psycopg.conninfo import make_conninfo

from services.api.app import create_app
from services.audit import checkpoints, keys
from services.audit.verify import record_hash
from services.cli.audit import cmd_verify
from services.cli.audit_kit import cmd_audit
from services.cli.main import parser
from services.settings import Settings
from services.store.database import Database
from tests.conftest import unique_slug
from tools import prowd_audit_verify as standalone

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class World:
    settings: Settings
    db: Database
    client: Any
    slug: str
    schema: str


@pytest.fixture
def world(server_url, settings, auth, tmp_path) -> Iterator[World]:
    """A database of its own (the key history is platform-wide) and a key folder of its own,
    with one grantee of four events."""
    name = f"prowd_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server_url, dbname=name)
    own = dataclasses.replace(
        settings,
        database_url=url,
        data_dir=tmp_path / "data",
        audit_key_file=str(tmp_path / "keys" / "audit.pem"),
    )
    db = Database(url, own, name="prowd-test-keys").open()
    try:
        with TestClient(create_app(own, db)) as client:
            slug = unique_slug("k")
            r = client.post(
                "/v1/grantees",
                json={"slug": slug, "name": "Keys", "grant_number": "FS-0018-26"},
                headers=auth("platform_admin"),
            )
            assert r.status_code == 201
            w = World(own, db, client, slug, f"g_{slug}")
            add_events(w, auth, 4)
            yield w
    finally:
        db.close()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_events(w: World, auth, n: int) -> None:
    h = auth("coordinator", w.slug)
    for _ in range(n):
        code = f"FCI-{secrets.token_hex(3).upper()}"
        body = {"code": code, "name": code, "kind": "bop_institution"}
        r = w.client.post(f"/v1/grantees/{w.slug}/facilities", json=body, headers=h)
        assert r.status_code == 201


def run(w: World, *argv: str, settings: Settings | None = None) -> int:
    args = parser().parse_args(list(argv))
    handler = cmd_audit if argv[0] == "audit" else cmd_verify
    return handler(args, settings or w.settings)


def auditor_keys(w: World) -> str:
    """The key set as an outside auditor holds it: fetched from GET /v1/audit/public-keys
    themselves, never taken from the kit they check. Its path, for the verifier's --keys."""
    path = w.settings.data_dir.parent / "auditor-keys.json"
    path.write_text(w.client.get("/v1/audit/public-keys").text)
    return str(path)


def as_superuser(w: World, statement: str) -> None:
    with psycopg.connect(w.settings.database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement)


def without_private_key(w: World, tmp_path: Path) -> Settings:
    """Settings under which no private audit key can be found (nor generated: verify reads
    none)."""
    return dataclasses.replace(
        w.settings, data_dir=tmp_path / "empty", audit_key_file=str(tmp_path / "none" / "k.pem")
    )


def rotated_log(w: World, auth, capsys) -> tuple[str, str]:
    signer = checkpoints.load_key(w.settings)
    assert checkpoints.sign_if_due(w.db, w.schema, signer, force=True) == 4
    old = keys.current_kid(w.db)
    assert run(w, "audit", "rotate-key") == 0
    assert "audit key rotated" in capsys.readouterr().out
    new = keys.current_kid(w.db)
    add_events(w, auth, 3)
    assert checkpoints.sign_if_due(w.db, w.schema, signer, force=True) == 7
    assert old and new and old != new
    return old, new


def test_a_rotation_mid_log_verifies_with_public_keys_only(world, auth, capsys, tmp_path):
    w = world
    old, new = rotated_log(w, auth, capsys)
    rows = w.db.fetchall(f'SELECT notification_id, key_id FROM "{w.schema}".checkpoints ORDER BY 1')
    assert rows == [(4, old), (7, new)]

    published = w.client.get("/v1/audit/public-keys").json()["keys"]
    assert [k["kid"] for k in published] == [old, new]
    first, second = published
    assert first["not_before"] is None and first["not_after"] == second["not_before"]
    assert second["not_after"] is None
    assert all(k["use"] == "sig" and k["fingerprint"].startswith("SHA256:") for k in published)
    assert w.client.get("/v1/audit/public-key").json()["key_id"] == new

    bare = without_private_key(w, tmp_path)
    assert run(w, "verify", "--grantee", w.slug, settings=bare) == 0
    assert f"{w.slug}: intact, 7 events verified" in capsys.readouterr().out
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"keys": published}))
    assert run(w, "verify", "--grantee", w.slug, "--keys", str(keys_file), settings=bare) == 0
    assert not (tmp_path / "none").exists()  # no private key was read nor generated
    body = w.client.get(
        f"/v1/grantees/{w.slug}/audit/verification", headers=auth("auditor", w.slug)
    ).json()
    assert (body["intact"], body["verdict"]) == (True, "intact")

    # The old key's set alone does not know the new key: a verdict of its own.
    keys_file.write_text(json.dumps({"keys": [first]}))
    assert run(w, "verify", "--grantee", w.slug, "--keys", str(keys_file), settings=bare) == 3
    assert f"unknown key id {new} at position 7" in capsys.readouterr().out


def forged_checkpoint(w: World, position: int, private: Ed25519PrivateKey, at: Any) -> None:
    digest = w.db.fetchone(
        f'SELECT hash FROM "{w.schema}".chain WHERE notification_id = {position}'
    )
    raw = private.public_key().public_bytes_raw()
    signature = private.sign(checkpoints.message(w.schema, position, bytes(digest[0])))
    w.db.fetchone(
        f'INSERT INTO "{w.schema}".checkpoints (notification_id, hash, key_id, signature, signed_at)'
        " VALUES (%s, %s, %s, %s, %s) RETURNING 1",
        (position, bytes(digest[0]), keys.kid_of(raw), signature, at),
    )


def test_a_checkpoint_by_an_unpublished_key_is_an_unknown_key_id(world, capsys, tmp_path):
    w = world
    signer = checkpoints.load_key(w.settings)
    signer.publish(w.db)
    rogue = Ed25519PrivateKey.generate()
    forged_checkpoint(w, 3, rogue, w.db.fetchone("SELECT now()")[0])
    kid = keys.kid_of(rogue.public_key().public_bytes_raw())
    assert run(w, "verify", "--grantee", w.slug, settings=without_private_key(w, tmp_path)) == 3
    assert f"{w.slug}: unknown key id {kid} at position 3" in capsys.readouterr().out

    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    assert standalone.main([str(kit), "--keys", auditor_keys(w)]) == 3
    assert f"unknown key id {kid} at position 3" in capsys.readouterr().out


def test_a_checkpoint_signed_after_its_key_was_retired_is_outside_validity(
    world, auth, capsys, tmp_path
):
    w = world
    rotated_log(w, auth, capsys)
    retired = checkpoints.load_key(w.settings).configured  # the first key, no longer current
    late = w.db.fetchone("SELECT now() + interval '1 minute'")[0]
    add_events(w, auth, 1)
    forged_checkpoint(w, 8, retired.private, late)
    assert run(w, "verify", "--grantee", w.slug, settings=without_private_key(w, tmp_path)) == 4
    assert "checkpoint outside its key's validity at position 8" in capsys.readouterr().out
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    assert standalone.main([str(kit), "--keys", auditor_keys(w)]) == 4


TAMPERS = [
    ("UPDATE {s}.events SET state = state || '\\x00'::bytea WHERE notification_id = 3", 3),
    ("DELETE FROM {s}.events WHERE notification_id = 2", 2),
    (
        "INSERT INTO {s}.events (originator_id, originator_version, topic, state) OVERRIDING SYSTEM"
        " VALUE SELECT originator_id, 99, topic, state FROM {s}.events WHERE notification_id = 1",
        5,
    ),
    (
        "CREATE TEMP TABLE moved AS SELECT * FROM {s}.events WHERE notification_id IN (2, 3);"
        " DELETE FROM {s}.events WHERE notification_id IN (2, 3);"
        " INSERT INTO {s}.events (notification_id, originator_id, originator_version, topic, state)"
        " OVERRIDING SYSTEM VALUE SELECT 5 - notification_id, originator_id, originator_version,"
        " topic, state FROM moved",
        2,
    ),
]


@pytest.mark.parametrize(
    ("tamper", "position"), TAMPERS, ids=["alter", "delete", "insert", "reorder"]
)
def test_each_tamper_kind_is_found_on_an_export_by_the_standalone_verifier(
    world, capsys, tmp_path, tamper, position
):
    w = world
    checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings), force=True)
    clean = tmp_path / "clean"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(clean)) == 0
    assert standalone.main([str(clean), "--keys", auditor_keys(w)]) == 0
    assert "intact, 4 events verified" in capsys.readouterr().out

    as_superuser(w, tamper.format(s=w.schema))
    assert run(w, "verify", "--grantee", w.slug) == 1
    assert f"{w.slug}: tampered at position {position}" in capsys.readouterr().out
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    assert standalone.main([str(kit), "--keys", auditor_keys(w)]) == 1
    assert f"tampered at position {position}" in capsys.readouterr().out


def test_the_export_is_pinned_by_its_manifest(world, capsys, tmp_path):
    w = world
    kit = tmp_path / "kit"
    assert (
        run(w, "audit", "export", "--grantee", w.slug, "--through", "3", "--output", str(kit)) == 0
    )
    manifest = json.loads((kit / "manifest.json").read_text())
    assert (manifest["through"], manifest["events"], manifest["grantee"]) == (3, 3, w.slug)
    assert set(manifest["files"]) == {
        "events.ndjson",
        "chain.ndjson",
        "checkpoints.json",
        "public-keys.json",
    }
    assert standalone.main([str(kit), "--keys", auditor_keys(w)]) == 0
    lines = (kit / "events.ndjson").read_text().splitlines()
    assert json.loads(lines[0])["event"]["originator_topic"] == "domain.facilities:Facility"
    line = json.loads(lines[1])
    line["version"] += 1
    lines[1] = json.dumps(line, separators=(",", ":"))
    (kit / "events.ndjson").write_text("\n".join(lines) + "\n")
    assert standalone.main([str(kit), "--keys", auditor_keys(w)]) == 1
    assert "events.ndjson does not match the manifest" in capsys.readouterr().out
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 2
    assert run(w, "audit", "export", "--grantee", "nobody", "--output", str(tmp_path / "x")) == 2


def test_the_docs_worked_example_is_the_codes_hashing_rule():
    doc = (ROOT / "docs" / "audit.md").read_text()
    block = doc.split("<!-- worked-example -->")[1]
    field = dict(re.findall(r"^- `(\w+)`: `([^`]*)`", block, re.MULTILINE))
    state = field["state"].encode()
    args = (int(field["position"]), uuid.UUID(field["originator_id"]), int(field["version"]))
    layout = standalone.record_bytes(
        args[0], field["originator_id"], args[2], field["topic"], state
    )
    assert layout.hex() == field["record_hex"]
    first = record_hash(b"", args[0], args[1], args[2], field["topic"], state)
    assert first.hex() == field["hash"] == standalone.chain_hash(b"", layout).hex()
    second = record_hash(first, args[0] + 1, args[1], args[2] + 1, field["topic"], state)
    assert second.hex() == field["next_hash"]


def test_retired_keys_stay_published_and_old_checkpoints_keep_verifying(world, auth, capsys):
    w = world
    old, new = rotated_log(w, auth, capsys)
    published = keys.published(w.db)
    assert published[old].not_after == published[new].not_before
    assert published[old].valid_at(published[new].not_before - timedelta(microseconds=1))
    assert not published[old].valid_at(published[new].not_before)


def test_the_standalone_verifier_runs_in_a_fresh_venv_with_only_cryptography(
    world, capsys, tmp_path
):
    """The kit is checked where the project is not installed: a new virtual environment with
    nothing but `cryptography` (the project's pinned version, from uv's cache), the tool copied
    out of the repository, run isolated (-I: no PYTHONPATH, no user site)."""
    import shutil
    import subprocess

    import cryptography

    w = world
    checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings), force=True)
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    venv, tool = tmp_path / "venv", tmp_path / "alone" / "prowd_audit_verify.py"
    tool.parent.mkdir()
    shutil.copy(ROOT / "tools" / "prowd_audit_verify.py", tool)
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    uv = shutil.which("uv")
    assert uv, "uv is needed to build the fresh environment"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, env=env, cwd=tmp_path)
    subprocess.run(
        [uv, "pip", "install", "-q", f"cryptography=={cryptography.__version__}"],
        check=True,
        env={**env, "VIRTUAL_ENV": str(venv)},
        cwd=tmp_path,
    )
    python = str(venv / "bin" / "python")
    installed = subprocess.run(
        [
            python,
            "-I",
            "-c",
            "import importlib.metadata as m; print(sorted(d.name for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert "cryptography" in installed and "psycopg" not in installed and "prowd" not in installed
    keys_file = auditor_keys(w)
    ok = subprocess.run(
        [python, "-I", str(tool), str(kit), "--keys", keys_file],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (ok.returncode, "intact, 4 events verified" in ok.stdout) == (0, True), (
        ok.stdout + ok.stderr
    )

    as_superuser(w, TAMPERS[0][0].format(s=w.schema))
    bad = tmp_path / "bad"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(bad)) == 0
    found = subprocess.run(
        [python, "-I", str(tool), str(bad), "--keys", keys_file],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert found.returncode == 1 and "tampered at position 3" in found.stdout, found.stdout


def test_a_worker_without_the_current_keys_file_signs_nothing(world, auth, capsys):
    """After a rotation, a process that cannot read the new key's file does not fall back to
    the retired key: no checkpoint rather than one outside its key's validity."""
    w = world
    _, new = rotated_log(w, auth, capsys)
    (Path(w.settings.audit_key_file).parent / f"audit-ed25519-{new}.pem").unlink()
    add_events(w, auth, 2)
    fresh = checkpoints.load_key(w.settings)  # a restarted worker: only the configured key
    assert fresh.current(w.db) is None
    assert checkpoints.sign_if_due(w.db, w.schema, fresh, force=True) is None
    assert w.db.fetchone(f'SELECT max(notification_id) FROM "{w.schema}".checkpoints')[0] == 7
