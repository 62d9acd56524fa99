"""What a case manager types into a search, over HTTP with the real app and PostgreSQL
(decision 133): text that folds to nothing (spaces, a no-break or ideographic space, a lone
accent, a comma) is no search on every list that takes `q` and in the console; a name's words
are found in any order; one letter wrong, missing, extra or swapped in a name word of four
letters or more still finds the person, the same on a server with pg_trgm or without it, and
a clearly different name is not found."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from domain import clock
from projections.search import one_letter_off, searches, words
from services.projector import live as projector
from tests.console_helpers import csrf_of, shown, sign_in
from tests.meetings_helpers import World
from tests.mentoring_helpers import Api

# Each folds to nothing: a space, two, a no-break space, an ideographic space, a lone
# combining acute accent, a comma.
NOTHING = [" ", "  ", "\u00a0", "\u3000", "\u0301", ",", " \u0301 , "]
LISTS = ["/participants", "/mentors", "/pairings", "/meetings", "/goals"]


def test_text_that_folds_to_nothing_is_no_search():
    for q in NOTHING:
        assert not searches(q), repr(q)
    assert searches("%") and searches("12") and searches("é")
    assert words("Garcia,  Rosa") == ["garcia", "rosa"]
    assert one_letter_off("lee") == []  # too short: "Lee" is not "Leo"


@pytest.fixture(scope="module")
def world(client, auth, db) -> World:
    """A mentor, two participants paired with them, a meeting and a goal each."""
    w = World(client, auth, db, "America/Chicago")
    ana = w.mentor("ana")
    beatriz, carlos = w.enrol(name="Beátriz"), w.enrol(name="Carlos")
    for pid in (beatriz, carlos):
        pairing = w.pair(ana, [pid], "2026-10-01T15:00:00Z")
        w.schedule(pairing, "2026-11-03T18:00:00-06:00")
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
    projector.drain(db, w.schema)
    return w


@pytest.mark.parametrize("path", LISTS)
def test_a_search_that_folds_to_nothing_is_the_unfiltered_list(world, path):
    unfiltered = world.get(path)["items"]
    assert unfiltered
    for q in NOTHING:
        r = world.client.get(world.base + path, params={"q": q}, headers=world.headers())
        assert r.status_code == 200, (q, r.text)
        assert r.json()["items"] == unfiltered, repr(q)
    # Beside it a real search still filters.
    assert world.get(path, q="zzzz")["items"] == []


def test_the_console_search_treats_a_lone_accent_as_no_search(browser, grantee, enrol, db):
    enrol(first_name="Marisol", last_name="Quintero")
    enrol(first_name="Tobias", last_name="Brandvold")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    for q in ("\u0301", "\u00a0", " , "):
        r = browser.post("/console/caseload", data={"q": q, "_csrf_token": csrf_of(browser)})
        assert r.status_code == 200, r.text
        page = shown(r.text)
        found = re.findall(r'participants/[0-9a-f-]+">([^<]*)', page)
        assert "Quintero, Marisol" in page and "Brandvold, Tobias" in page, (repr(q), found)
        assert "unexpected error" not in r.text
    r = browser.post("/console/caseload", data={"q": "Brandvolt", "_csrf_token": csrf_of(browser)})
    assert "Brandvold, Tobias" in shown(r.text) and "Quintero" not in r.text


# Names of the demo's lists, some close to each other.
PEOPLE = [
    ("Rosa", "Garcia"),
    ("Luis", "Garza"),
    ("Shanice", "Johnson"),
    ("Denise", "Jackson"),
    ("Maria", "Martinez"),
    ("Tanya", "Lopez"),
    ("Andre", "Lewis"),
    ("Kevin", "Allen"),
]


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    for first, last in PEOPLE:
        body = {
            "first_name": first,
            "last_name": last,
            "date_of_birth": "1990-04-01",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        Api(client, auth, grantee, db).post("/participants", body)
    projector.drain(db, f"g_{grantee}")
    return Api(client, auth, grantee, db)


def found(api: Api, q: str) -> list[str]:
    return sorted(row["last_name"] for row in api.get("/participants", q=q)["items"])


def test_a_name_is_found_with_its_words_in_any_order(api):
    for q in ("Rosa Garcia", "Garcia Rosa", "Garcia, Rosa", "garc ros", "ROSA,GARCIA"):
        assert found(api, q) == ["Garcia"], q
    assert found(api, "Rosa Lopez") == []  # every word must match


def test_one_letter_off_finds_the_person_and_not_a_different_name(api):
    # Wrong, missing, extra, swapped: on every server, pg_trgm or not.
    assert found(api, "Garsia") == ["Garcia"]
    assert found(api, "Shanise") == ["Johnson"]
    assert found(api, "Garsia Rosa") == ["Garcia"]
    assert found(api, "Marinez") == ["Martinez"]
    assert found(api, "Allenn") == ["Allen"]
    assert found(api, "Lewsi") == ["Lewis"]
    assert found(api, "Lopes") == ["Lopez"]
    # Precision: two letters off is another name ("Garza" is not "Garcia"), "Shanise" is
    # not Denise, and a word of three letters is matched by prefix only.
    assert found(api, "Garza") == ["Garza"]
    assert found(api, "Denice") == ["Jackson"]
    assert found(api, "Kev") == ["Allen"]
    assert found(api, "Kem") == []
    # A first letter is kept: "Lewis" is not "Hewis", nor a number misspelt.
    assert found(api, "Hewis") == []
