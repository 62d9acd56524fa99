"""A name's parts joined by a hyphen, an apostrophe or another sign are words a search finds
(decision 147): "Lopez" finds García-López, "Nguyen" and "obrien" find O'Brien-Nguyễn, "Cmd"
finds +Cmd; over HTTP with the real app and PostgreSQL, and after a rebuild of the view."""

from __future__ import annotations

import pytest

from projections.search import search_words, searches, words
from services.projector import live as projector
from services.projector import rebuilds
from tests.mentoring_helpers import Api


def test_the_words_of_a_name_with_signs():
    assert search_words("O'Brien-Nguyễn").split() == ["o", "brien", "nguyen", "obrien"]
    assert search_words("García-López") == "garcia lopez"
    assert search_words("+Cmd") == "cmd"
    assert search_words("Ann Lee") == "ann lee"
    assert words("o'brien") == ["o", "brien", "obrien"]
    # A word of signs alone stays one (it finds only itself); a number is a number.
    assert search_words("Ann + Lee") == "ann + lee" and words("%") == ["%"]
    assert searches("%") and searches("12345-678")


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def found(api: Api, q: str) -> set[str]:
    return {p["last_name"] for p in api.get("/participants", q=q, limit=100)["items"]}


@pytest.mark.parametrize("rebuilt", [False, True], ids=["live", "rebuilt"])
def test_a_search_finds_each_part_of_a_joined_name(api: Api, rebuilt: bool) -> None:
    api.enrol(first_name="Rosa", last_name="García-López")
    api.enrol(first_name="Mai", last_name="O'Brien-Nguyễn")
    api.enrol(first_name="Sam", last_name="+Cmd")
    api.enrol(first_name="Ann", last_name="Lopezz")
    projector.drain(api.db, f"g_{api.slug}")
    if rebuilt:
        rebuilds.rebuild(api.db, f"g_{api.slug}", "search")
    assert found(api, "Lopez") == {"García-López", "Lopezz"}
    assert found(api, "garcia lopez") == {"García-López"}
    assert found(api, "García-López") == {"García-López"}
    for q in ("Nguyen", "nguyễn", "obrien", "O'Brien", "o brien", "Mai Nguyen"):
        assert found(api, q) == {"O'Brien-Nguyễn"}, q
    assert found(api, "Cmd") == {"+Cmd"}
    # The whole word first: "lopez" is a whole word of García-López, a prefix of Lopezz.
    order = [p["last_name"] for p in api.get("/participants", q="lopez")["items"]]
    assert order == ["García-López", "Lopezz"]
