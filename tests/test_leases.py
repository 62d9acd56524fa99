"""Projection workers share the grantees through advisory-lock leases (DESIGN D9): three
`prowd worker` processes split them; one is killed with SIGKILL; the other two take its
grantees within seconds and the views catch up."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain import clock
from services.projector import live as projector
from services.runners.projection import LEASE_APPLICATION, LEASE_CLASS
from tests.conftest import JWT_SECRET

ROOT = Path(__file__).resolve().parent.parent


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def leases(db) -> dict[int, set[int]]:
    """Lease holders (backend pid) → the lease keys they hold."""
    rows = db.fetchall(
        "SELECT l.pid, l.objid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objsubid = 2 AND l.granted"
        " AND a.datname = current_database() AND a.application_name = %s",
        (LEASE_CLASS, LEASE_APPLICATION),
    )
    held: dict[int, set[int]] = {}
    for pid, objid in rows:
        held.setdefault(pid, set()).add(objid)
    return held


def grantee_keys(db) -> set[int]:
    rows = db.fetchall("SELECT hashtext('g_' || slug)::oid FROM prowd.grantees")
    return {int(r[0]) for r in rows}


@pytest.fixture
def workers(database_url, settings) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_JWT_SECRET": JWT_SECRET,
        # The tests' own data directory: the same development master key, so the workers can
        # decrypt what the tests wrote.
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_CLOCK": clock.now().isoformat(),
        "PROWD_LOG_LEVEL": "warning",
        # The tests' app migrated the database already; workers that each re-ran the migration
        # of every grantee in the session would queue on its lock for a long time.
        "PROWD_MIGRATE_ON_START": "false",
    }
    procs = [
        subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env, cwd=ROOT)
        for _ in range(3)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def test_three_workers_split_the_grantees_and_survive_a_kill(
    workers, db, make_grantee, client, auth
):
    for _ in range(6):
        make_grantee()
    keys = grantee_keys(db)

    def split_evenly():
        held = leases(db)
        if len(held) != 3:
            return None
        union = set().union(*held.values())
        share = math.ceil(len(keys) / 3)
        return held if union >= keys and all(len(v) <= share for v in held.values()) else None

    held = wait_until(split_evenly, 60, "three workers leasing every grantee, each its share")
    # No grantee is leased twice.
    assert sum(len(v) for v in held.values()) == len(set().union(*held.values()))

    # SIGKILL one worker: no goodbye, its connection just drops.
    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    started = time.monotonic()

    def taken_over():
        now = leases(db)
        return now if len(now) == 2 and set().union(*now.values()) >= keys else None

    after = wait_until(taken_over, 30, "the two survivors leasing every grantee")
    took = time.monotonic() - started
    share = math.ceil(len(keys) / 2)
    assert all(len(v) <= share for v in after.values())
    print(f"leases taken over {took:.1f} s after the kill")

    # Writes to every grantee reach the views, whichever worker now serves it.
    slug = make_grantee()
    h = auth("coordinator", slug)
    r = client.post(
        f"/v1/grantees/{slug}/facilities",
        json={"code": "FCI-Z", "name": "Zed", "kind": "bop_institution"},
        headers=h,
    )
    assert r.status_code == 201
    head = int(r.headers["x-log-position"])
    wait_until(
        lambda: projector.lowest_position(db, f"g_{slug}") >= head,
        15,
        "the views of a grantee registered after the kill caught up",
    )
    assert all(p.poll() is None for p in workers[1:])
