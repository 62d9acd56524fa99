"""Watching the views: the projection lag probe, and the views' convergence to a rebuild."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from services.projector import live, rebuilds
from services.store.database import Database
from tests.perf.harness.postgres import Fetcher, OneConnection, log_head
from tests.perf.harness.results import percentiles_ms


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds passed; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def caseload_position(db: Fetcher, schema: str) -> int:
    """The log position the live caseload view has applied."""
    return live.position_of(db, schema, "caseload")  # type: ignore[arg-type]


class LagProbe(threading.Thread):
    """Every `interval` seconds: one enrolment over HTTP (grantees in turn), then poll the
    caseload view's position every `poll` seconds until it shows it: the lag, from the answer
    to the view. A lag over `timeout` counts as a timeout (and as its seconds waited).

    With `keyed`, each enrolment carries an Idempotency-Key and an X-Request-ID (`probe-…`);
    `on_answer(seconds, status, key)` hears of every answer. `swap()` hands over the lags
    since the last swap (a sampler's window); `lags` keeps them all.
    """

    def __init__(
        self,
        base: str,
        url: str,
        headers: dict[str, str],
        slugs: Sequence[str],
        body: Callable[[str], dict[str, Any]],
        *,
        interval: float,
        timeout: float,
        poll: float,
        keyed: bool = False,
        max_probes: int = 10_000,
        until: float = math.inf,
        request_timeout: float = 10.0,
        on_answer: Callable[[float, str, str], None] | None = None,
    ) -> None:
        super().__init__(name="lag-probe", daemon=True)
        self.base, self.url, self.headers, self.slugs, self.body = base, url, headers, slugs, body
        self.interval, self.timeout, self.poll, self.keyed = interval, timeout, poll, keyed
        self.max_probes, self.until, self.on_answer = max_probes, until, on_answer
        self.request_timeout = request_timeout
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.lags: list[float] = []
        self.window: list[float] = []
        self.request_s: list[float] = []
        self.timeouts = 0
        self.polls = 0
        self.failures: dict[str, int] = {}

    def run(self) -> None:
        with (
            OneConnection(self.url, "prowd-bench-lag") as db,
            httpx.Client(base_url=self.base, timeout=self.request_timeout) as http,
        ):
            next_at = time.monotonic()
            for i in range(self.max_probes):
                if self.stopping.is_set() or time.monotonic() >= self.until:
                    return
                slug = self.slugs[i % len(self.slugs)]
                key = f"probe-{i}-{secrets.token_hex(3)}"
                headers = {**self.headers, "Idempotency-Key": key, "X-Request-ID": key}
                t0 = time.monotonic()
                r: httpx.Response | None
                try:
                    r = http.post(
                        f"/v1/grantees/{slug}/participants",
                        json=self.body(key),
                        headers=headers if self.keyed else self.headers,
                    )
                    status = str(r.status_code)
                except httpx.HTTPError as e:
                    r, status = None, type(e).__name__
                answered = time.monotonic()
                if self.on_answer is not None:
                    self.on_answer(answered - t0, status, key)
                if r is not None and r.status_code == 201:
                    self.request_s.append(answered - t0)
                    self._wait(db, f"g_{slug}", int(r.json()["position"]), answered)
                else:
                    self.failures[status] = self.failures.get(status, 0) + 1
                next_at += self.interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    self.stopping.wait(pause)
                else:
                    next_at = time.monotonic()

    def _wait(self, db: OneConnection, schema: str, position: int, answered: float) -> None:
        while True:
            self.polls += 1
            if caseload_position(db, schema) >= position:
                lag = time.monotonic() - answered
                break
            if time.monotonic() - answered > self.timeout:
                self.timeouts += 1
                lag = time.monotonic() - answered
                break
            time.sleep(self.poll)
        with self.lock:
            self.lags.append(lag)
            self.window.append(lag)

    def swap(self) -> list[float]:
        """The lags measured since the last swap."""
        with self.lock:
            out, self.window = self.window, []
        return out

    def result(self) -> dict[str, Any]:
        """Probes, timeouts, failed answers, polls, and the lag and request percentiles."""
        return {
            "probes": len(self.lags),
            "timeouts": self.timeouts,
            "failures": self.failures,
            "polls": self.polls,
            "lag_ms": percentiles_ms(self.lags),
            "probe_request_ms": percentiles_ms(self.request_s),
            "lags_ms": [round(1000 * v, 1) for v in self.lags],
        }


def wait_caught_up(db: Database, schema: str, timeout: float) -> tuple[bool, int]:
    """Wait (bounded) until every live view of the grantee has applied its whole log;
    whether they did, and the log head."""
    head = log_head(db, schema)
    caught_up = wait_until(lambda: live.lowest_position(db, schema) >= head, timeout)
    return caught_up, head


def views_caught_up(db: Database, slugs: Sequence[str], timeout: float) -> bool:
    """Wait (bounded, for all together) until each grantee's caseload view has applied the
    log as it stands now."""
    deadline = time.monotonic() + timeout
    for slug in slugs:
        schema = f"g_{slug}"
        head = log_head(db, schema)

        def shows_head(schema: str = schema, head: int = head) -> bool:
            return caseload_position(db, schema) >= head

        if not wait_until(shows_head, max(0.0, deadline - time.monotonic()), 0.1):
            return False
    return True


def equals_rebuild(db: Database, schema: str) -> bool:
    """Rebuild every view of the grantee and compare digests: the live views were right."""
    before = live.digests(db, schema)
    rebuilds.rebuild_views(db, schema)
    return before == live.digests(db, schema)
