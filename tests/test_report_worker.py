"""Quarterly reports computed in short-lived child processes (services/reports/processes.py): the
same bytes and the same problems as computed in the API process, in another process acting as
the service's role, and a child that dies answers a clear 503 after which reports work again.

The history is the one of tests/test_oversight.py. `inproc` is the app with
`PROWD_REPORT_PROCESSES=0` (reports in the API process, as before), `client` the session's app
(the default: one report process).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import OperationalError as StoreOperationalError
from litestar import Litestar
from litestar.testing import TestClient
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import TooManyRequests

from domain import clock
from services.api.app import create_app
from services.identity.tokens import issue_token
from services.projector import live as projector
from services.refusals import Refused
from services.reports.jobs import Ask, Grantee, all_body, figure_page, grantee_body
from services.reports.processes import ReportPool
from services.reports.quarterly import Quarter
from services.settings import Settings
from services.store.database import Database
from tests.conftest import corrupt_event
from tests.test_oversight import History, build

Q = "2026Q3"
FORMATS = ("json", "csv", "html")


@pytest.fixture(scope="module")
def history(
    client: TestClient[Litestar], auth: Callable[..., dict[str, str]], db: Database
) -> History:
    h = build(client, auth, db)
    projector.drain(db, h.schema)
    return h


@pytest.fixture(scope="module")
def grantee(history: History) -> Grantee:
    return Grantee(history.slug, history.schema, "America/Chicago", "Oversight grantee")


@pytest.fixture
def pool() -> Iterator[ReportPool]:
    p = ReportPool(1)
    yield p
    p.shutdown()


@pytest.fixture(scope="module")
def inproc(settings: Settings, db: Database) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(replace(settings, report_processes=0), db)) as c:
        yield c


def oversight(settings: Settings, *slugs: str) -> dict[str, str]:
    """A federal_oversight token for these grantees only (other tests' grantees, some with
    altered logs, stay out of the cross-grantee report)."""
    token = issue_token(
        settings, subject="test-federal_oversight", roles=["federal_oversight"], grantees=[*slugs]
    )
    return {"Authorization": f"Bearer {token}"}


def pid_role_and_timeout(db: Database) -> tuple[int, str, str, str]:
    """Run through the pool as a report task is: which process, as whom, with what limits."""
    row = db.fetchone(
        "SELECT current_user, current_setting('application_name'),"
        " current_setting('statement_timeout')"
    )
    assert row is not None
    return os.getpid(), str(row[0]), str(row[1]), str(row[2])


def die(db: Database) -> None:
    os._exit(3)


def store_gives_up(db: Database) -> None:
    """What the event store raises when its retries against a busy or restarting server run
    out: the same 503 as the driver's own error, in a child as in the API process."""
    raise StoreOperationalError("the server closed the connection unexpectedly")


def pool_queue_full(db: Database) -> None:
    raise TooManyRequests("the pool's queue is full")


def main_file() -> str | None:
    return getattr(sys.modules["__main__"], "__file__", None)


def test_pool_bytes_equal_in_process_bytes(
    db: Database, pool: ReportPool, grantee: Grantee, history: History
) -> None:
    live = Ask(Quarter(2026, 3))
    assert history.before_last is not None
    then = Ask(Quarter(2026, 3), as_of=history.before_last)
    in_process = ReportPool(0)
    for ask in (live, then):
        for fmt in FORMATS:
            here = grantee_body(db, grantee, ask, fmt)
            there = pool.run(db, grantee_body, grantee, ask, fmt)
            assert there == here, (ask, fmt)
            assert in_process.run(db, grantee_body, grantee, ask, fmt) == here
            assert all_body(db, [grantee], ask, fmt) == pool.run(db, all_body, [grantee], ask, fmt)
        here_page = figure_page(db, grantee, ask, "exits.total", 0, 1)
        assert pool.run(db, figure_page, grantee, ask, "exits.total", 0, 1) == here_page
    body, position = pool.run(db, grantee_body, grantee, live, "json")
    assert position == projector.position_of(db, history.schema, "oversight") > 0
    assert b'"exits.completed"' in body


def test_http_answers_from_the_pool_equal_the_in_process_answers(
    client: TestClient[Litestar],
    inproc: TestClient[Litestar],
    db: Database,
    settings: Settings,
    grantee: Grantee,
    history: History,
) -> None:
    headers = oversight(settings, history.slug)
    assert history.before_last is not None
    for as_of in (None, history.before_last):
        params = {} if as_of is None else {"as_of": as_of.isoformat()}
        for fmt in FORMATS:
            path = f"{history.base}/reports/quarterly/{Q}"
            pooled = client.get(path, params={**params, "format": fmt}, headers=headers)
            local = inproc.get(path, params={**params, "format": fmt}, headers=headers)
            assert pooled.status_code == local.status_code == 200, pooled.text
            assert pooled.content == local.content, (params, fmt)
            for name in ("content-type", "x-log-position", "vary"):
                assert pooled.headers[name] == local.headers[name], name
            body, position = grantee_body(db, grantee, Ask(Quarter(2026, 3), as_of), fmt)
            assert (pooled.content, pooled.headers["x-log-position"]) == (body, str(position))
            path = f"/v1/reports/quarterly/{Q}"
            pooled = client.get(path, params={**params, "format": fmt}, headers=headers)
            local = inproc.get(path, params={**params, "format": fmt}, headers=headers)
            assert pooled.status_code == local.status_code == 200, pooled.text
            assert pooled.content == local.content, (params, fmt)
            assert pooled.headers["vary"] == "Accept" and "x-log-position" not in pooled.headers
        path = f"{history.base}/reports/quarterly/{Q}/figures/meetings.held"
        pooled = client.get(path, params={**params, "limit": 2}, headers=headers)
        local = inproc.get(path, params={**params, "limit": 2}, headers=headers)
        assert pooled.status_code == 200 and pooled.json() == local.json()
    # Read-your-writes still holds through the child: min_position at the view's position.
    position = projector.position_of(db, history.schema, "oversight")
    r = client.get(
        f"{history.base}/reports/quarterly/{Q}",
        params={"min_position": position},
        headers=headers,
    )
    assert r.status_code == 200 and r.headers["x-log-position"] == str(position)


def test_a_problem_in_the_child_reaches_the_client_unchanged(
    client: TestClient[Litestar],
    inproc: TestClient[Litestar],
    db: Database,
    pool: ReportPool,
    settings: Settings,
    make_grantee: Callable[[], str],
    history: History,
) -> None:
    headers = oversight(settings, history.slug)
    path = f"{history.base}/reports/quarterly/{Q}/figures/enrolment.everyone"
    pooled, local = client.get(path, headers=headers), inproc.get(path, headers=headers)
    assert pooled.status_code == local.status_code == 404
    assert pooled.headers["content-type"] == local.headers["content-type"]
    assert pooled.headers["content-type"].startswith("application/problem+json")
    assert pooled.json() == local.json()
    assert pooled.json()["code"] == "figure_not_found"
    # An event altered behind the service's back: the replay refuses it (409).
    slug = make_grantee()
    schema = f"g_{slug}"
    projector.drain(db, schema)
    corrupt_event(db, schema, 2)
    as_of = clock.now()
    headers = oversight(settings, slug)
    for path in (f"/v1/grantees/{slug}/reports/quarterly/{Q}", f"/v1/reports/quarterly/{Q}"):
        pooled = client.get(path, params={"as_of": as_of.isoformat()}, headers=headers)
        local = inproc.get(path, params={"as_of": as_of.isoformat()}, headers=headers)
        assert pooled.status_code == local.status_code == 409, pooled.text
        assert pooled.json() == local.json()
        assert pooled.json()["code"] == "log_unreadable"
        assert "position 2" in pooled.json()["detail"]
    # The module's functions: the same exception, raised in this process.
    g = Grantee(slug, schema, "America/New_York")
    ask = Ask(Quarter(2026, 3), as_of=as_of)
    with pytest.raises(Refused) as here:
        grantee_body(db, g, ask, "json")
    with pytest.raises(Refused) as there:
        pool.run(db, grantee_body, g, ask, "json")
    assert (there.value.status, there.value.code, there.value.detail, there.value.headers) == (
        here.value.status,
        here.value.code,
        here.value.detail,
        here.value.headers,
    )


def test_a_database_the_child_cannot_reach_is_the_usual_503(
    client: TestClient[Litestar],
    db: Database,
    pool: ReportPool,
    settings: Settings,
    server_url: str,
    database_url: str,
    grantee: Grantee,
    history: History,
) -> None:
    down = Database("postgresql://postgres@127.0.0.1:1/nowhere", settings, name="down")
    with pytest.raises(psycopg.OperationalError):
        pool.run(down, grantee_body, grantee, Ask(Quarter(2026, 3)), "json")
    # Over HTTP: the database refuses new connections (the API's pool keeps those it has).
    name = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            r = client.get(
                f"{history.base}/reports/quarterly/{Q}", headers=oversight(settings, history.slug)
            )
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "database_unavailable"
    assert r.headers["retry-after"] == "2"


def test_the_event_store_giving_up_in_the_child_is_the_usual_503_not_a_500(
    pool: ReportPool, db: Database
) -> None:
    # Under load a child's store may give up its retries (eventsourcing's OperationalError) or
    # find its queue full; the API process answers those 503 database_unavailable, so must a
    # report computed in a child (it used to come back as ReportFailed, a 500).
    for fn in (store_gives_up, pool_queue_full):
        with pytest.raises(psycopg.OperationalError) as raised:
            pool.run(db, fn)
        assert type(raised.value) is psycopg.OperationalError
        assert fn.__name__ != "store_gives_up" or "closed the connection" in str(raised.value)


def test_reports_run_in_a_fresh_child_of_a_thread_free_forkserver(
    app: Litestar, client: TestClient[Litestar], db: Database, history: History
) -> None:
    pool: ReportPool = app.state.report_pool
    assert pool.processes == 1
    first, role, application, timeout = pool.run(db, pid_role_and_timeout)
    second = pool.run(db, pid_role_and_timeout)[0]
    assert os.getpid() not in (first, second)
    assert first != second  # one task a child
    assert (role, application, timeout) == ("prowd_service", "prowd-report", "15s")
    server = pool.call(os.getppid)
    assert server != os.getpid()
    status = Path(f"/proc/{server}/status").read_text()
    assert "\nThreads:\t1\n" in status
    assert b"forkserver" in Path(f"/proc/{server}/cmdline").read_bytes()
    # A child does not re-run this process's main module (pytest's, when pytest runs in this
    # process; an xdist worker's has no file) before its task.
    assert pool.call(main_file) is None


def children_of(parent: int) -> set[int]:
    """The live (not yet reaped children excluded) child processes of `parent`."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if stat[0] != "Z" and int(stat[1]) == parent:
                out.add(int(entry))
    return out


def settled(server: int, pool: ReportPool) -> set[int]:
    """The forkserver's children once `pool` has replaced the child of its last task."""
    last = pool.call(os.getpid)
    deadline = time.monotonic() + 10
    while ((children := children_of(server)) and last in children) or not children:
        assert time.monotonic() < deadline, children
        time.sleep(0.01)
    return children


def test_a_child_that_dies_gives_503_and_the_next_report_works(
    app: Litestar,
    client: TestClient[Litestar],
    db: Database,
    settings: Settings,
    grantee: Grantee,
    history: History,
) -> None:
    pool: ReportPool = app.state.report_pool
    path = f"{history.base}/reports/quarterly/{Q}"
    headers = oversight(settings, history.slug)
    with pytest.raises(Refused) as lost:
        pool.run(db, die)
    assert (lost.value.status, lost.value.code) == (503, "report_process_lost")
    assert client.get(path, headers=headers).status_code == 200
    # Killed in the middle of an HTTP report: the child waits for a lock this test holds.
    server = pool.call(os.getppid)
    with (
        psycopg.connect(db.url, autocommit=True) as conn,
        conn.transaction(),
        ThreadPoolExecutor(1) as background,
    ):
        conn.execute(f'LOCK TABLE "{history.schema}".tracking IN ACCESS EXCLUSIVE MODE')
        answer = background.submit(client.get, path, headers=headers)
        deadline = time.monotonic() + 2.5  # the child's lock_timeout is 3 s
        # As the login user: the service role does not see other sessions' wait events.
        with psycopg.connect(db.url, autocommit=True) as monitor:
            while not monitor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = 'prowd-report'"
                " AND wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchall():
                assert time.monotonic() < deadline, "the report never waited for the lock"
                time.sleep(0.01)
        # The session app's child is the only child of the forkserver now (the other apps'
        # pools are shut down, or compute in-process).
        (child,) = children_of(server)
        os.kill(child, signal.SIGKILL)
        r = answer.result(timeout=30)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "report_process_lost"
    assert r.headers["retry-after"] == "1"
    again = client.get(path, headers=headers)
    assert again.status_code == 200
    assert again.content == grantee_body(db, grantee, Ask(Quarter(2026, 3)), "json")[0]


def test_ctrl_c_in_the_terminal_leaves_the_waiting_child_to_the_parent(
    pool: ReportPool, db: Database
) -> None:
    # Ctrl-C reaches every process of the terminal's group: the child waiting for a report
    # ignores it (the parent stops the pool), prints no traceback, and still runs its task.
    assert pool.call(signal.getsignal, signal.SIGINT) == signal.SIG_IGN
    server = pool.call(os.getppid)
    waiting = settled(server, pool)  # children waiting for a report (of any app's pool)
    for child in waiting:
        os.kill(child, signal.SIGINT)
    time.sleep(0.2)
    assert waiting <= children_of(server)
    assert pool.run(db, pid_role_and_timeout)[1] == "prowd_service"


def test_the_app_stops_its_report_processes_when_it_shuts_down(
    settings: Settings, db: Database, history: History, app: Litestar
) -> None:
    server = app.state.report_pool.call(os.getppid)
    before = settled(server, app.state.report_pool)
    assert len(before) == 1  # the session app's next child, waiting for a report
    other = create_app(settings, db)
    with TestClient(other) as c:
        r = c.get(
            f"{history.base}/reports/quarterly/{Q}", headers=oversight(settings, history.slug)
        )
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while not children_of(server) - before:  # its next child, waiting for a report
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert children_of(server) == before


def test_the_setting() -> None:
    assert Settings.from_env({}).report_processes == 1
    assert Settings.from_env({"PROWD_REPORT_PROCESSES": "0"}).report_processes == 0
    with pytest.raises(SystemExit):
        Settings.from_env({"PROWD_REPORT_PROCESSES": "two"})
    with pytest.raises(ValueError):
        ReportPool(-1)
