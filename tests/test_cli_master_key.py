"""The commands that decrypt, rebuild or re-wrap refuse master keys that do not fit before they
change anything: one `cannot start` line naming the settings, exit 1, and the key table, the
views and the logs as they were (docs/operations.md, "A wrong master key").

Each command runs as the operator runs it: `python -m services.cli` in a process of its own,
with the master keys in its environment."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from services.settings import Settings
from services.store import keys
from services.store.database import Database
from services.store.schema import grantee_schema

ROOT = Path(__file__).resolve().parents[1]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _configured_key(settings: Settings) -> bytes:
    """The master key this test session's processes run with."""
    value = settings.master_key or (settings.data_dir / "master-key").read_text()
    return base64.b64decode(value.strip())


def prowd(
    settings: Settings, *argv: str, current: bytes, previous: tuple[bytes, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_DATABASE_URL": settings.database_url,
        "PROWD_MASTER_KEY": _b64(current),
        "PROWD_MASTER_KEY_PREVIOUS": ",".join(_b64(k) for k in previous),
        "PROWD_MIGRATE_ON_START": "false",
        "PROWD_JWT_SECRET": "x" * 32,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The reason of the one `cannot start` line of a refused command."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    record: dict[str, Any] = json.loads(line)
    assert (record["event"], record["level"]) == ("cannot start", "error"), record
    reason: str = record["reason"]
    assert "PROWD_MASTER_KEY" in reason, reason
    return reason


def key_rows(db: Database, slug: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in db.fetchall(
            sql.SQL(
                "SELECT participant_id, master_key_id, wrapped_key, destroyed_at"
                " FROM {}.participant_keys ORDER BY participant_id"
            ).format(sql.Identifier(grantee_schema(slug)))
        )
    ]


def _rewrap_last(db: Database, slug: str, ring: keys.KeyRing) -> None:
    """Re-wrap the grantee's last key (in the order `rotate` walks them) under `ring`'s current
    key, as a key of an earlier rotation whose master key the operator has since dropped."""
    schema = sql.Identifier(grantee_schema(slug))
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "SELECT participant_id, master_key_id, wrapped_key FROM {}.participant_keys"
                " ORDER BY participant_id DESC LIMIT 1 FOR UPDATE"
            ).format(schema)
        )
        row = cur.fetchone()
        assert row is not None
        pid, key_id, wrapped = row
        new_id, new_wrapped = ring.wrap(pid, ring.unwrap(key_id, pid, bytes(wrapped)))
        cur.execute(
            sql.SQL(
                "UPDATE {}.participant_keys SET master_key_id = %s, wrapped_key = %s"
                " WHERE participant_id = %s"
            ).format(schema),
            (new_id, new_wrapped, pid),
        )


def test_keys_rotate_unwraps_every_key_before_it_rewraps_one(
    grantee: str, enrol: Any, db: Database, settings: Settings
) -> None:
    for first in ("Ada", "Bea", "Cy", "Dee"):
        enrol(first_name=first)
    old = _configured_key(settings)
    dropped, new = os.urandom(32), os.urandom(32)
    _rewrap_last(db, grantee, keys.KeyRing(dropped, [old]))
    try:
        before = key_rows(db, grantee)
        # The new key current, the old one previous, but the dropped one forgotten: with one
        # row a batch, the rows before the forgotten one would have been re-wrapped.
        done = prowd(
            settings,
            *("keys", "rotate", "--grantee", grantee, "--batch", "1"),
            current=new,
            previous=(old,),
        )
        reason = refused(done)
        assert "1 participant key(s) of 1 grantee(s) do not unwrap" in reason
        assert "nothing was changed" in reason and "PROWD_MASTER_KEY_PREVIOUS" in reason
        assert keys.master_key_id(dropped) in reason
        assert key_rows(db, grantee) == before
        # A wrong key altogether, over every grantee: refused, nothing changed either.
        done = prowd(settings, "keys", "rotate", "--all", current=os.urandom(32))
        assert "do not unwrap" in refused(done)
        assert key_rows(db, grantee) == before
        # With every key it needs, the same rotation goes through.
        done = prowd(
            settings,
            *("keys", "rotate", "--grantee", grantee, "--batch", "1"),
            current=new,
            previous=(old, dropped),
        )
        assert done.returncode == 0, done.stderr
        assert f"{grantee}: 4 key(s) re-wrapped; {keys.master_key_id(new)}: 4" in done.stdout
    finally:
        keys.rotate(db, grantee_schema(grantee), keys.KeyRing(old, [new, dropped]))
    assert {row[1] for row in key_rows(db, grantee)} == {keys.master_key_id(old)}


def staging_tables(db: Database, slug: str) -> set[str]:
    return {
        name
        for (name,) in db.fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename ~ '_b[0-9]+$'",
            (grantee_schema(slug),),
        )
    }


def event_count(db: Database, slug: str) -> int:
    row = db.fetchone(
        sql.SQL("SELECT count(*) FROM {}.events").format(sql.Identifier(grantee_schema(slug)))
    )
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    "command",
    [
        "projections rebuild --grantee {g}",
        "projections digest --grantee {g}",
        "replay --grantee {g} --as-of 2026-03-01T09:00:00Z",
        "export pirl --grantee {g} --quarter 2026Q1",
        "erase participant --grantee {g} --participant {p} --by ops --reason request",
        "import participants {file} --grantee {g}",
    ],
    ids=lambda command: " ".join(command.split()[:2]),
)
def test_commands_that_decrypt_refuse_a_wrong_master_key_up_front(
    command: str,
    grantee: str,
    enrol: Any,
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    pid = enrol(first_name="Wanda")["id"]
    csv = tmp_path / "people.csv"
    csv.write_text(
        "first_name,last_name,date_of_birth,program_entry_date,facility,cohort\n"
        "Ivo,Ames,1985-05-05,2026-02-01,FCI-A,C1\n"
    )
    args = [a.format(g=grantee, p=pid, file=csv) for a in command.split()]
    before = (staging_tables(db, grantee), key_rows(db, grantee), event_count(db, grantee))
    reason = refused(prowd(settings, *args, current=os.urandom(32)))
    assert "unwrap none of the participant keys" in reason
    after = (staging_tables(db, grantee), key_rows(db, grantee), event_count(db, grantee))
    assert after == before


@pytest.mark.parametrize(
    "command",
    ["projections rebuild --grantee {g}", "replay --grantee {g} --as-of 2026-03-01T09:00:00Z"],
    ids=lambda command: command.split()[0],
)
def test_a_rebuild_refuses_one_key_that_does_not_unwrap_before_it_starts(
    command: str, grantee: str, enrol: Any, db: Database, settings: Settings
) -> None:
    """The check at start passes (most keys unwrap); one key of an earlier rotation whose
    master key was dropped would stop the rebuild half-way: it is found first."""
    for first in ("Eve", "Flo", "Gus"):
        enrol(first_name=first)
    old, dropped = _configured_key(settings), os.urandom(32)
    _rewrap_last(db, grantee, keys.KeyRing(dropped, [old]))
    try:
        before = (staging_tables(db, grantee), key_rows(db, grantee))
        done = prowd(settings, *command.format(g=grantee).split(), current=old)
        reason = refused(done)
        assert "1 participant key(s) of 1 grantee(s) do not unwrap" in reason
        assert keys.master_key_id(dropped) in reason and "nothing was changed" in reason
        assert (staging_tables(db, grantee), key_rows(db, grantee)) == before
    finally:
        keys.rotate(db, grantee_schema(grantee), keys.KeyRing(old, [dropped]))
