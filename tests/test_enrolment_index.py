"""The enrolment index (decision 132): the keys duplicate detection compares are kept by the
writes themselves, so an enrolment's check is one indexed read that never waits for the
search view. Shown over HTTP with the real app and PostgreSQL: the index follows enrolments,
corrections and erasure; the search view is not read; a grantee migrated from before the
index has it filled once, by its first check, from the search view."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from services.app import enrolment_index
from tests.mentoring_helpers import Api
from tests.test_corrections import DANA


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def enrol(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post(api.base + "/participants", json=body, headers=api.headers())


def index_rows(api: Api) -> list[tuple[Any, ...]]:
    return api.db.fetchall(
        sql.SQL(
            "SELECT person_id::text, number_key, folded, register_key, born::text"
            " FROM {}.enrolment_index ORDER BY folded"
        ).format(sql.Identifier(f"g_{api.slug}"))
    )


def search_position(api: Api) -> int:
    row = api.db.fetchone(
        sql.SQL("SELECT coalesce(max(position), 0) FROM {}.tracking WHERE view = 'search'").format(
            sql.Identifier(f"g_{api.slug}")
        )
    )
    return int(row[0]) if row else 0


def test_the_index_follows_enrolment_correction_and_erasure(api: Api) -> None:
    dana = api.post("/participants", DANA)
    number_key = dana["number"].lower().replace("-", "")
    assert index_rows(api) == [(dana["id"], number_key, "dana reyes", "12345678", "1988-03-14")]
    # A correction of the name, date of birth and register number moves the keys with it.
    api.post(
        f"/participants/{dana['id']}/corrections",
        {
            "last_name": "Reyes-Ortíz",
            "date_of_birth": "1988-03-15",
            "bop_register_number": "99999-001",
            "reason": "ID card seen",
        },
    )
    assert index_rows(api) == [
        (dana["id"], number_key, "dana reyes-ortiz", "99999001", "1988-03-15")
    ]
    # The old keys no longer match anyone; the corrected ones do.
    plain = {k: v for k, v in DANA.items() if k != "duplicate_reason"}
    r = enrol(
        api,
        {
            **plain,
            "first_name": "DANA",
            "last_name": "REYES-ORTIZ",
            "date_of_birth": "1988-03-15",
            "bop_register_number": None,
        },
    )
    assert r.status_code == 409, r.text
    assert r.json()["existing"] == [
        {
            "participant_id": dana["id"],
            "number": number_key.upper(),
            "rule": "same_name_and_birth_date",
        }
    ]
    other = enrol(
        api,
        {**plain, "first_name": "Dana", "last_name": "Reyes", "bop_register_number": "55555-555"},
    )
    assert other.status_code == 201, other.text
    # Erasure removes the keys: the erased person is nobody a new enrolment duplicates.
    r = api.client.post(
        f"{api.base}/participants/{dana['id']}/erasure",
        json={"reason": "participant request of 2026-11-20"},
        headers=api.headers(),
    )
    assert r.status_code == 201, r.text
    assert [row[0] for row in index_rows(api)] == [other.json()["id"]]
    again = enrol(
        api,
        {
            **plain,
            "last_name": "Reyes-Ortiz",
            "date_of_birth": "1988-03-15",
            "bop_register_number": "99999-001",
        },
    )
    assert again.status_code == 201, again.text


def test_the_check_does_not_wait_for_the_search_view(api: Api) -> None:
    """Nothing here applies the search view (no read of it, no worker): the second enrolment
    of the same person is found all the same, by the index the first one wrote."""
    plain = {k: v for k, v in DANA.items() if k != "duplicate_reason"}
    first = enrol(api, plain)
    assert first.status_code == 201, first.text
    applied = search_position(api)
    r = enrol(api, {**plain, "first_name": "Dan"})
    assert r.status_code == 409, r.text
    assert r.json()["existing"][0]["participant_id"] == first.json()["id"]
    assert r.json()["existing"][0]["rule"] == "same_register_number"
    assert search_position(api) == applied  # the check did not catch the view up


def test_a_grantee_from_before_the_index_has_it_filled_by_its_first_check(
    api: Api, db: Any
) -> None:
    """Participants enrolled before the index existed (its rows and its mark removed here, as
    a migration leaves them) are found by the first check, which fills it from the search
    view once and marks it built at the log's head."""
    s = sql.Identifier(f"g_{api.slug}")
    ana = api.post("/participants", {**DANA, "duplicate_reason": "first"})
    ben = api.post(
        "/participants",
        {**DANA, "first_name": "Ben", "bop_register_number": "22222-222", "duplicate_reason": "x"},
    )
    with db.transaction() as cur:
        cur.execute(sql.SQL("DELETE FROM {}.enrolment_index").format(s))
        cur.execute(sql.SQL("DELETE FROM {}.enrolment_index_built").format(s))
    enrolment_index._built.clear()  # as in a process started after the migration
    assert index_rows(api) == []
    plain = {k: v for k, v in DANA.items() if k != "duplicate_reason"}
    r = enrol(api, {**plain, "first_name": "Benjamin", "bop_register_number": "22222-222"})
    assert r.status_code == 409, r.text
    assert r.json()["existing"][0]["participant_id"] == ben["id"]
    assert sorted(row[0] for row in index_rows(api)) == sorted([ana["id"], ben["id"]])
    head = db.fetchone(sql.SQL("SELECT max(notification_id) FROM {}.events").format(s))
    built = db.fetchall(sql.SQL("SELECT position FROM {}.enrolment_index_built").format(s))
    assert built == [(head[0],)]
