"""PROWD_HANDLER_THREADS is the number of threads that run the API's blocking handlers
(issue 23, point 3): Litestar runs sync handlers on the event loop's default executor, which the
API sizes at start-up; before, the setting sized a limiter Litestar never consulted and handlers
ran on the loop's default min(32, cores + 4) threads."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

from litestar.testing import TestClient

from services.api.app import HANDLER_THREAD_PREFIX, create_app


def handler_threads() -> set[threading.Thread]:
    # Threads, not names: another app of this process (the session's) has threads of the same
    # names.
    return {t for t in threading.enumerate() if t.name.startswith(HANDLER_THREAD_PREFIX)}


def test_blocking_handlers_run_on_as_many_threads_as_the_setting_says(settings, db, auth, grantee):
    app = create_app(dataclasses.replace(settings, handler_threads=2), db)
    before = handler_threads()
    with TestClient(app) as client:
        headers = auth("case_manager", grantee)

        def read(_: int) -> int:
            return client.get(f"/v1/grantees/{grantee}/participants", headers=headers).status_code

        # 40 reads from 8 client threads at once: the handlers queue for the API's threads.
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(read, range(40))) == {200}
        used = handler_threads() - before
        assert 1 <= len(used) <= 2, sorted(t.name for t in used)
