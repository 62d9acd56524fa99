"""A search's results come closest first (decision 141), over HTTP with the real app and
PostgreSQL: without a `sort`, every list that takes `q` orders what it finds by an exact
program or register number, then names whose words match whole, then by a word's prefix, then
one letter off, ties in the list's own order; an explicit `sort` wins; pages neither repeat
nor skip a row, and a cursor of one order is refused in another. The console's caseload
search shows the same order."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from domain import clock
from services.projector import live as projector
from tests.console_helpers import csrf_of, shown, sign_in
from tests.meetings_helpers import World

# Enrolled in this order, with these program numbers: the list's own order (by number) puts
# the misspelt first and the exact last, the reverse of what a search should show.
PEOPLE = [
    ("N01", "Rosa", "Garsia"),  # "garcia" one letter off
    ("N02", "Luis", "Garcias"),  # "garcia" as a prefix
    ("N03", "Ana", "Garcia"),  # "garcia" whole
    ("N04", "Rosa", "Garcia"),  # "garcia" whole
    ("N05", "Tanya", "Lopez"),  # not found
]
# Mentors "Mentor <name>": one letter off, a prefix, whole.
MENTORS = ["kowalsky", "kowalskis", "kowalski"]


def walk(w: World, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every row of a list, a page of `limit` at a time, following `next_cursor`."""
    rows: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(50):
        page = w.get(path, limit=limit, cursor=cursor, **params)
        rows += page["items"]
        if page["next_cursor"] is None:
            return rows
        cursor = page["next_cursor"]
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
def world(client, auth, db) -> tuple[World, dict[str, str], dict[str, str], dict[str, str]]:
    """The people above; the mentors above, each paired with one of the first three
    participants; a meeting in each pairing (scheduled in the pairings' order); a goal each."""
    w = World(client, auth, db, "America/Chicago")
    ids: dict[str, str] = {}
    for day, (number, first, last) in enumerate(PEOPLE, start=1):
        body = {
            "first_name": first,
            "last_name": last,
            "number": number,
            "date_of_birth": f"1990-04-{day:02d}",
            "program_entry_date": "2025-09-15",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        ids[last if last != "Garcia" else f"{first} {last}"] = str(
            w.post("/participants", body)["id"]
        )
    # Register and program numbers: one exact, one only by prefix, one exact program number.
    numbered = [
        ("P77", "Kim", "Ostrowski", "87654-321"),
        ("876543210", "Lee", "Ostrander", None),
        ("87654321", "Ray", "Oyelaran", None),
    ]
    for number, first, last, register in numbered:
        body = {
            "first_name": first,
            "last_name": last,
            "number": number,
            "date_of_birth": "1985-01-01",
            "program_entry_date": "2025-09-15",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        if register:
            body["bop_register_number"] = register
        ids[last] = str(w.post("/participants", body)["id"])
    mentors = {name: w.mentor(name) for name in MENTORS}
    pairings = {}
    for (mentor, member), hour in zip(
        zip(MENTORS, ["Garsia", "Garcias", "Ana Garcia"], strict=True), (15, 16, 17), strict=True
    ):
        pairings[member] = w.pair(mentors[mentor], [ids[member]], "2026-10-01T15:00:00Z")
        w.schedule(pairings[member], f"2026-11-03T{hour}:00:00-06:00")
    # A second meeting of Ana Garcia's pairing, earlier: ties keep the scheduled order.
    w.schedule(pairings["Ana Garcia"], "2026-11-02T09:00:00-06:00")
    for last in ("Garsia", "Garcias", "Ana Garcia", "Rosa Garcia"):
        w.post(
            "/goals",
            {
                "participant_id": ids[last],
                "horizon": "short_term",
                "domain": "id_documents",
                "statement": "Get a state ID card",
                "measure": "ID card issued by the DMV",
                "target": "card in hand",
                "target_date": (clock.today() + timedelta(days=60)).isoformat(),
            },
        )
    projector.drain(db, w.schema)
    return w, ids, mentors, pairings


def last_names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["last_name"] for r in rows]


def test_whole_words_before_a_prefix_before_one_letter_off(world):
    w = world[0]
    found = w.get("/participants", q="garcia")["items"]
    # Ana and Rosa Garcia (whole, in number order), Garcias (prefix), Garsia (one letter off).
    assert [r["number"] for r in found] == ["N03", "N04", "N02", "N01"]
    assert last_names(w.get("/participants", q="Garcia, Rosa")["items"]) == ["Garcia", "Garsia"]
    # Both prefixes: a tie, kept in the list's own order (by number).
    assert [r["number"] for r in w.get("/participants", q="gar ros")["items"]] == ["N01", "N04"]
    # "garc" begins no word of "Rosa Garsia", and is no whole word one letter off.
    assert [r["number"] for r in w.get("/participants", q="rosa garc")["items"]] == ["N04"]


def test_an_exact_register_or_program_number_comes_first(world):
    w = world[0]
    found = w.get("/participants", q="87654-321")["items"]
    # The exact program number 87654321 and the register number 87654-321 (both exact: by
    # number), then the program number 876543210 that only begins with it.
    assert [r["number"] for r in found] == ["87654321", "P77", "876543210"]
    assert last_names(found) == ["Oyelaran", "Ostrowski", "Ostrander"]


def test_an_explicit_sort_wins(world):
    w = world[0]
    by_number = w.get("/participants", q="garcia", sort="number")["items"]
    assert [r["number"] for r in by_number] == ["N01", "N02", "N03", "N04"]
    backwards = w.get("/participants", q="garcia", sort="-number")["items"]
    assert [r["number"] for r in backwards] == ["N04", "N03", "N02", "N01"]
    first_names = w.get("/participants", q="garcia", sort="first_name")["items"]
    assert [r["first_name"] for r in first_names] == ["Ana", "Luis", "Rosa", "Rosa"]


@pytest.mark.parametrize("limit", [1, 2, 3])
@pytest.mark.parametrize("sort", [None, "last_name", "-number"])
def test_pages_neither_repeat_nor_skip(world, limit, sort):
    w = world[0]
    params = {"q": "garcia"} | ({"sort": sort} if sort else {})
    whole = w.get("/participants", **params)["items"]
    assert len(whole) == 4
    assert walk(w, "/participants", limit, **params) == whole


def test_the_mentors_list_orders_by_closeness(world):
    w, _, mentors, _ = world
    found = w.get("/mentors", q="kowalski")["items"]
    assert [r["id"] for r in found] == [mentors[m] for m in ("kowalski", "kowalskis", "kowalsky")]
    assert walk(w, "/mentors", 1, q="kowalski") == found


def test_pairings_order_by_their_closest_mentor_or_member(world):
    w, _, _, pairings = world
    # By a member's name: Ana Garcia's pairing (whole), Garcias' (prefix), Garsia's.
    by_member = [r["id"] for r in w.get("/pairings", q="garcia")["items"]]
    assert by_member == [pairings[m] for m in ("Ana Garcia", "Garcias", "Garsia")]
    # By the mentor's name: kowalski paired with Ana Garcia, kowalskis with Garcias.
    by_mentor = [r["id"] for r in w.get("/pairings", q="kowalski")["items"]]
    assert by_mentor == [pairings[m] for m in ("Ana Garcia", "Garcias", "Garsia")]
    assert [r["id"] for r in walk(w, "/pairings", 1, q="garcia")] == by_member


def test_meetings_order_by_their_pairing_then_by_time(world):
    w, _, _, pairings = world
    found = w.get("/meetings", q="garcia")["items"]
    assert [r["pairing_id"] for r in found] == [
        pairings[m] for m in ("Ana Garcia", "Ana Garcia", "Garcias", "Garsia")
    ]
    # Ana Garcia's two meetings: the earlier first, as the list's own order has them.
    assert found[0]["scheduled_for"] < found[1]["scheduled_for"]
    for limit in (1, 3):
        assert walk(w, "/meetings", limit, q="garcia") == found
    # The list's own order (by time) without a search, and with an explicit sort.
    assert [
        r["pairing_id"] for r in w.get("/meetings", q="garcia", sort="scheduled_for")["items"]
    ] == [pairings[m] for m in ("Ana Garcia", "Garsia", "Garcias", "Ana Garcia")]


def test_goals_order_by_their_participant(world):
    w, ids, _, _ = world
    found = [r["participant_id"] for r in w.get("/goals", q="garcia")["items"]]
    # The two whole matches (in goal id order, the list's own), then the prefix, then Garsia.
    assert sorted(found[:2]) == sorted([ids["Ana Garcia"], ids["Rosa Garcia"]])
    assert found[2:] == [ids["Garcias"], ids["Garsia"]]
    assert [r["participant_id"] for r in walk(w, "/goals", 1, q="garcia")] == found


def _refused(w: World, path: str, **params: Any) -> dict[str, Any]:
    r = w.client.get(w.base + path, params=params, headers=w.headers())
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return dict(r.json())


def _forged(value: str, key: str, *mark: str) -> str:
    raw = msgspec.json.encode([value, key, *mark])
    return "~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mark_of(cursor: str) -> str:
    """The mark a sorted cursor carries after its value and key."""
    raw = base64.urlsafe_b64decode(cursor[1:] + "=" * (-len(cursor[1:]) % 4))
    return str(msgspec.json.decode(raw)[2])


def test_a_cursor_of_another_order_is_refused(world):
    w = world[0]
    closest = w.get("/participants", q="garcia", limit=1)["next_cursor"]
    by_name = w.get("/participants", q="garcia", sort="last_name", limit=1)["next_cursor"]
    own = w.get("/participants", limit=1)["next_cursor"]
    for params in (
        {"q": "garcia", "sort": "last_name", "cursor": closest},
        {"q": "garcia", "cursor": by_name},
        {"q": "garcia", "cursor": own},
        {"cursor": closest},
    ):
        problem = _refused(w, "/participants", **params)
        assert problem["code"] == "invalid_cursor", params
    # A forged rank, or a forged date for a sort by date: refused, not a database error.
    mark = _mark_of(closest)
    assert _refused(w, "/participants", q="garcia", cursor=_forged("x", "N01", mark))
    assert _refused(w, "/participants", q="garcia", cursor=_forged("9" * 30, "N01", mark))
    assert _refused(w, "/participants", sort="exit_date", cursor=_forged("not a date", "N01"))
    meetings = w.get("/meetings", q="garcia", limit=1)["next_cursor"]
    assert _refused(w, "/meetings", cursor=meetings)["code"] == "invalid_cursor"
    assert _refused(w, "/meetings", q="garcia", sort="status", cursor=meetings)


@pytest.mark.parametrize(
    ("path", "q", "other", "sort"),
    [
        ("/participants", "garcia", "ostrowski", None),
        ("/participants", "garcia", "garsia", "last_name"),
        ("/participants", "garcia", "", "last_name"),
        ("/mentors", "kowalski", "kowalsky", None),
        ("/pairings", "garcia", "kowalski", None),
        ("/meetings", "garcia", "kowalski", None),
        ("/meetings", "garcia", "garsia", "-scheduled_for"),
        ("/goals", "garcia", "garcias", None),
    ],
)
def test_a_cursor_is_bound_to_the_search_it_came_from(world, path, q, other, sort):
    """A search's cursor carries a digest of what it looks for (decision 148): sent with a
    search for other words (or with none) it is 400 `invalid_cursor`, never a page of the new
    search cut at the old one's rank; the same words in other case continue the pages."""
    w = world[0]
    sorting = {"sort": sort} if sort else {}
    first = w.get(path, q=q, limit=1, **sorting)
    cursor = first["next_cursor"]
    assert cursor is not None
    swapped = {"q": other} if other else {}
    problem = _refused(w, path, cursor=cursor, **swapped, **sorting)
    assert problem["code"] == "invalid_cursor"
    said = "search for other words" if other else "another order"
    assert said in problem["detail"] and "pass the same `q` and `sort`" in problem["detail"]
    # Case and spaces are not what a search looks for.
    retyped = f"  {q.upper()} "
    again = w.get(path, q=retyped, limit=1, cursor=cursor, **sorting)
    assert again == w.get(path, q=q, limit=1, cursor=cursor, **sorting)
    assert again["items"] and again["items"] != first["items"]


def test_the_console_caseload_search_shows_the_closest_first(browser, world):
    w = world[0]
    sign_in(browser, "coordinator", w.slug)
    r = browser.post("/console/caseload", data={"q": "garcia", "_csrf_token": csrf_of(browser)})
    assert r.status_code == 200, r.text
    page = shown(r.text)
    names = re.findall(r'participants/[0-9a-f-]+">([^<]*)', page)
    assert names == ["Garcia, Ana", "Garcia, Rosa", "Garcias, Luis", "Garsia, Rosa"]
    assert "sorted by closest match first" in page
    # A sort chosen in the form still wins.
    r = browser.post(
        "/console/caseload",
        data={"q": "garcia", "sort": "-number", "_csrf_token": csrf_of(browser)},
    )
    names = re.findall(r'participants/[0-9a-f-]+">([^<]*)', shown(r.text))
    assert names == ["Garcia, Rosa", "Garcia, Ana", "Garcias, Luis", "Garsia, Rosa"]
