"""A console page when the views are short of the staff member's last command (the worker
down or far behind), through HTTP against the real application with no projector running: the
page waits once (bounded), not once per part, draws every part as the views have it, and says
that the lists may not show the last change yet (decision 148)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient

from services.api.app import create_app
from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import key_of, post, shown, sign_in
from tests.meetings_helpers import World

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
# The API's bounded wait for `min_position` in this test's application.
WAIT = 2.0
BEHIND = "some lists on this page may not show it yet"


@pytest.fixture
def own(settings, db) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(dataclasses.replace(settings, view_wait_max=WAIT), db)
    with TestClient(app) as client:
        yield client


def test_a_page_behind_the_last_command_waits_once_and_says_so(own, auth, db, frozen_at: FreezeAt):
    frozen_at(NOW, tick=True)
    world = World(own, auth, db)
    pid = world.enrol(name="Ada")
    projector.drain(db, world.schema)
    sign_in(own, "coordinator", world.slug)

    # Caught up: no notice.
    page = own.get(f"/console/participants/{pid}")
    assert page.status_code == 200 and BEHIND not in page.text

    # A command from the console, and no projector to apply it: the participant's page reads
    # six lists that wait for it; it waits once, draws its parts, and says why they may lag.
    action = f"/console/participants/{pid}/assign"
    form = own.get(action)
    sent = {"duty": "case_manager", "staff": "cm-rita", "new_staff": "1"}
    assert post(own, action, sent, key_of(form.text, action)).status_code == 303
    started = time.monotonic()
    page = own.get(f"/console/participants/{pid}")
    took = time.monotonic() - started
    assert page.status_code == 200
    assert BEHIND in page.text
    # One wait, not six (each of `WAIT`): what the page does besides takes well under that.
    assert took < 3 * WAIT, took
    # The parts are drawn from the views as they are (the alerts, the goal board, the
    # timeline), and the participant's own record, read from the log, has the change.
    assert "Case manager: cm-rita" in shown(page.text)
    for part in ("h-alerts", "h-goals", "h-timeline"):
        assert f'id="{part}"' in page.text, part

    # Once the views have it, the notice goes.
    projector.drain(db, world.schema)
    page = own.get(f"/console/participants/{pid}")
    assert BEHIND not in page.text
