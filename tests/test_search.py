"""Search and sort over HTTP with the real app and PostgreSQL: `q` finds people by name (case
and accents ignored, any word's prefix, one letter off a word), program
number or register number; `sort` orders by any listed column and pages stay keyset pages;
erasure removes a person from every search."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import clock
from projections.search import fold, words
from services.projector import live as projector
from tests.meetings_helpers import World
from tests.mentoring_helpers import Api


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


PEOPLE = [
    ("José", "Álvarez", "12345-678"),
    ("Dana", "Reyes", "23456-789"),
    ("Ann", "Lee", "34567-890"),
    ("Zoë", "Abernathy", "45678-901"),
]


def enrol_people(api: Api) -> dict[str, str]:
    ids = {}
    for first, last, register in PEOPLE:
        body = {
            "first_name": first,
            "last_name": last,
            "date_of_birth": "1990-04-01",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
            "bop_register_number": register,
        }
        out = api.post("/participants", body)
        ids[last] = str(out["id"])
    projector.drain(api.db, f"g_{api.slug}")
    return ids


def names(page: dict[str, Any]) -> list[str]:
    return [row["last_name"] for row in page["items"]]


def test_fold_ignores_case_accents_and_spacing():
    assert fold("  JOSÉ   Álvarez ") == "jose alvarez"
    assert fold("Zoë") == "zoe"


def test_the_caseload_finds_by_name_number_and_register_number(api):
    ids = enrol_people(api)
    assert names(api.get("/participants", q="alvarez")) == ["Álvarez"]
    assert names(api.get("/participants", q="JOSE")) == ["Álvarez"]  # first name, no accent
    assert names(api.get("/participants", q="Rey")) == ["Reyes"]  # a prefix
    assert names(api.get("/participants", q="12345678")) == ["Álvarez"]  # without the dash
    assert names(api.get("/participants", q="23456-")) == ["Reyes"]
    number = api.get(f"/participants/{ids['Lee']}")["number"]
    assert names(api.get("/participants", q=number)) == ["Lee"]
    assert api.get("/participants", q="nobody")["items"] == []
    # The wildcards of LIKE are text like any other.
    assert api.get("/participants", q="%")["items"] == []


def test_a_name_written_last_comma_first_finds_the_person(api):
    # Rosters and court papers write "Last, First"; the index holds "First Last".
    enrol_people(api)
    assert names(api.get("/participants", q="Lee, Ann")) == ["Lee"]
    assert names(api.get("/participants", q="alvarez,jose")) == ["Álvarez"]
    assert names(api.get("/participants", q="Reyes,")) == ["Reyes"]
    assert api.get("/participants", q="Smith, John")["items"] == []
    # The comma is a space; each word is looked for in any order (decision 133).
    assert words("Lee, Ann") == ["lee", "ann"]
    assert words("Reyes,") == ["reyes"]


def test_a_name_one_letter_off_is_found_on_every_server(api):
    enrol_people(api)
    # One letter off is found, pg_trgm or not; two letters off are another name (decision 133).
    assert names(api.get("/participants", q="Alvares")) == ["Álvarez"]
    assert api.get("/participants", q="Alvaris")["items"] == []


def test_the_caseload_sorts_by_a_listed_column_in_keyset_pages(api):
    enrol_people(api)
    order = ["Abernathy", "Álvarez", "Lee", "Reyes"]
    seen: list[str] = []
    cursor = ""
    while True:
        page = api.get("/participants", sort="last_name", limit=1, cursor=cursor)
        seen += names(page)
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == order
    descending = api.get("/participants", sort="-last_name", limit=3)
    assert names(descending) == ["Reyes", "Lee", "Álvarez"]
    rest = api.get("/participants", sort="-last_name", cursor=descending["next_cursor"])
    assert names(rest) == ["Abernathy"]
    # Sort and search together.
    assert names(api.get("/participants", sort="-first_name", q="a")) == [
        "Abernathy",
        "Álvarez",
        "Lee",
    ]


def test_a_bad_sort_or_a_cursor_of_another_order_is_a_400(api):
    enrol_people(api)
    r = api.client.get(
        api.base + "/participants", params={"sort": "date_of_birth"}, headers=api.headers()
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_sort"
    assert "last_name" in r.json()["detail"]
    sorted_cursor = api.get("/participants", sort="last_name", limit=1)["next_cursor"]
    r = api.client.get(
        api.base + "/participants", params={"cursor": sorted_cursor}, headers=api.headers()
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = api.client.get(
        api.base + "/participants",
        params={"cursor": "~not-base64!", "sort": "last_name"},
        headers=api.headers(),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


def test_erasure_removes_the_person_from_every_search(api):
    ids = enrol_people(api)
    r = api.client.post(
        f"{api.base}/participants/{ids['Reyes']}/erasure",
        json={"reason": "participant request"},
        headers=api.headers(),
    )
    assert r.status_code == 201, r.text
    projector.drain(api.db, f"g_{api.slug}")
    assert api.get("/participants", q="Reyes")["items"] == []
    assert api.get("/participants", q="23456")["items"] == []
    assert api.get("/participants", q="erased")["items"] == []
    row = api.db.fetchone(
        f'SELECT count(*) FROM "g_{api.slug}".people_b1 WHERE person_id = %s', (ids["Reyes"],)
    )
    assert row is not None and row[0] == 0


# -- the other lists: mentors, pairings, goals, meetings --------------------------------------


def test_mentors_pairings_goals_and_meetings_are_searched_and_sorted(client, auth, db):
    w = World(client, auth, db, "America/Chicago")
    ana, bob = w.mentor("ana"), w.mentor("bob")  # "Mentor ana", "Mentor bob"
    beatriz, carlos = w.enrol(name="Beátriz"), w.enrol(name="Carlos")
    p1 = w.pair(ana, [beatriz], "2026-10-01T15:00:00Z")
    p2 = w.pair(bob, [carlos], "2026-10-02T15:00:00Z")
    first = w.schedule(p1, "2026-11-03T18:00:00-06:00")["id"]
    w.schedule(p2, "2026-11-04T18:00:00-06:00")
    last = w.schedule(p1, "2026-11-10T18:00:00-06:00")["id"]
    for pid in (beatriz, carlos):
        w.post(
            "/goals",
            {
                "participant_id": pid,
                "horizon": "short_term",
                "domain": "id_documents",
                "statement": "Get a state ID card",
                "measure": "ID card issued by the DMV",
                "target": "card in hand",
                "target_date": (clock.today() + timedelta(days=60)).isoformat(),
            },
        )

    mentors = w.view("/mentors", q="ANA")["items"]
    assert [m["id"] for m in mentors] == [ana], mentors
    by_name = w.view("/mentors", sort="-display_name")["items"]
    assert [m["display_name"] for m in by_name][:2] == ["Mentor bob", "Mentor ana"]

    assert [p["id"] for p in w.view("/pairings", q="beatriz")["items"]] == [p1]  # a member
    assert [p["id"] for p in w.view("/pairings", q="bob")["items"]] == [p2]  # the mentor
    assert [p["id"] for p in w.view("/pairings", sort="-mentor")["items"]] == [p2, p1]
    assert [p["id"] for p in w.view("/pairings", sort="opened_at")["items"]] == [p1, p2]

    goals = w.view("/goals", q="carlos")["items"]
    assert [g["participant_id"] for g in goals] == [carlos]

    # Meetings across pairings, without `pairing_id`: found, sorted, paged.
    across = w.view("/meetings")["items"]
    assert len(across) == 3
    assert [m["id"] for m in w.view("/meetings", q="beatriz")["items"]] == [first, last]
    newest = w.view("/meetings", sort="-scheduled_for", limit=1)
    assert [m["id"] for m in newest["items"]] == [last]
    rest = w.get("/meetings", sort="-scheduled_for", cursor=newest["next_cursor"])["items"]
    assert [m["pairing_id"] for m in rest] == [p2, p1]
    # A peer mentor sees the meetings of their own pairings only.
    mine = w.get("/meetings", role="peer_mentor", sub="bob")["items"]
    assert [m["pairing_id"] for m in mine] == [p2]
    r = client.get(w.base + "/goals", params={"sort": "statement"}, headers=w.headers())
    assert r.status_code == 400 and r.json()["code"] == "invalid_sort"
