"""A batch's duplicate detection (decision 92): the participants a batch's enrolments may
duplicate are looked up in the search index by their keys, all the batch's enrolments in one
query, never by reading everyone the grantee has; the batch's own enrolments count too, with
or without a `duplicate_reason`. Statements are read from libpq's protocol trace of an API
instance of its own (tests/pgtrace.py). Today is 2026-11-26 (UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from services.store.database import Database
from tests.meetings_helpers import World
from tests.pgtrace import CONNECTIONS, traced, traced_app
from tests.test_batch_commands import enrol, item, send

# The statement that reads every indexed person (an import's comparison).
EVERYONE = "SELECT person_id, kind, folded, register_key, born FROM"


@pytest.fixture(scope="module")
def traced_api(settings: Any, database_url: str) -> Iterator[tuple[Database, TestClient[Any]]]:
    with traced_app(settings, database_url, "prowd-batch-duplicates") as api:
        yield api


@pytest.fixture
def world(traced_api: Any, auth: Any, db: Database) -> World:
    return World(traced_api[1], auth, db, "America/Chicago")


def test_a_batch_looks_up_its_enrolments_not_everyone_enrolled(
    traced_api: Any, world: World
) -> None:
    pool, _ = traced_api
    w = world
    people = [enrol(f"Many{n:03d}", bop_register_number=f"70000-{n:03d}") for n in range(60)]
    first = send(w, [item("participant.enrol", f"m-{n}", b) for n, b in enumerate(people)])
    assert first["accepted"] == 60
    twin = {**people[7], "bop_register_number": None}  # same name and date of birth
    with traced(pool, CONNECTIONS) as transactions:
        out = send(
            w,
            [
                item("participant.enrol", "n-1", enrol("Fresh", bop_register_number="71000-001")),
                item("participant.enrol", "n-2", twin),
                item(
                    "participant.enrol", "n-3", {**enrol("Reg"), "bop_register_number": "70000-042"}
                ),
                item("participant.enrol", "n-4", enrol("Fresh2")),
            ],
        )
    assert [i["status"] for i in out["items"]] == [201, 409, 409, 201]
    assert out["items"][1]["problem"]["existing"][0]["rule"] == "same_name_and_birth_date"
    assert out["items"][2]["problem"]["existing"][0]["rule"] == "same_register_number"
    # Same refusals as the single endpoint: it names the participant of the first batch.
    assert out["items"][2]["problem"]["existing"][0]["participant_id"] == (first["items"][42]["id"])
    statements = [s for t in transactions for s in t]
    assert not [s for s in statements if s.startswith(EVERYONE) and " WHERE " not in s]
    # The four enrolments looked up together: one query, not one per item.
    assert len([s for s in statements if "register_key IN (SELECT unnest" in s]) == 1


def test_an_enrolment_with_a_reason_counts_for_the_next_items_of_its_batch(world: Any) -> None:
    """As the single endpoint: enrolled all the same, the first is a duplicate of the next."""
    w = world
    body = enrol("Rey", bop_register_number="72000-001")
    out = send(
        w,
        [
            item("participant.enrol", "r-1", {**body, "duplicate_reason": "checked"}),
            item("participant.enrol", "r-2", {**body, "first_name": "Reyna"}),
            item("participant.enrol", "r-3", {**body, "bop_register_number": None}),
        ],
    )
    assert [i["status"] for i in out["items"]] == [201, 409, 409]
    assert [i["problem"]["existing"][0]["rule"] for i in out["items"][1:]] == [
        "same_register_number",
        "same_name_and_birth_date",
    ]
    assert out["items"][1]["problem"]["existing"][0]["participant_id"] == out["items"][0]["id"]


def test_a_participant_enrolled_just_before_the_batch_is_found(world: World) -> None:
    """No projection worker runs here: the batch catches the search view up itself."""
    w = world
    body = enrol("Just", bop_register_number="73000-001")
    r = w.client.post(w.base + "/participants", json=body, headers=w.headers())
    assert r.status_code == 201, r.text
    out = send(w, [item("participant.enrol", "j-1", {**body, "first_name": "Justin"})])
    problem = out["items"][0]["problem"]
    assert problem["code"] == "possible_duplicate"
    assert problem["existing"] == [
        {
            "participant_id": r.json()["id"],
            "number": r.json()["number"],
            "rule": "same_register_number",
        }
    ]
