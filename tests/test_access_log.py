"""DESIGN D7: every response that carries personal data leaves one row in the grantee's access
log (who, when, what, in which role, from which request), refusals leave none, the log is
append-only in the database, and auditors read it by keyset pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from domain import clock
from tests.conftest import unique_slug
from tests.people import birth_date


def log_rows(db, slug: str, **where: Any) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{k} = %s" for k in where) or "true"
    rows = db.fetchall(
        f"SELECT id, at, subject, roles, action, method, path, resources, request_id, status"
        f' FROM "g_{slug}".access_log WHERE {clauses} ORDER BY id',
        tuple(where.values()),
    )
    keys = ("id", "at", "subject", "roles", "action", "method", "path", "resources")
    return [dict(zip((*keys, "request_id", "status"), r, strict=True)) for r in rows]


def read_log(client, auth, slug: str, role: str = "auditor", **params: Any) -> Any:
    return client.get(
        f"/v1/grantees/{slug}/audit/access-log", params=params, headers=auth(role, slug)
    )


def test_a_coordinator_reading_a_participant_leaves_exactly_one_row(
    client, auth, db, grantee, enrol
):
    p = enrol()
    started = clock.now()
    r = client.get(
        f"/v1/grantees/{grantee}/participants/{p['id']}",
        headers={**auth("coordinator", grantee, sub="coord-7"), "X-Request-Id": "req-read-1"},
    )
    assert r.status_code == 200
    rows = log_rows(db, grantee, subject="coord-7")
    assert len(rows) == 1
    row = rows[0]
    assert row["roles"] == ["coordinator"]
    assert row["action"] == "participants.read"
    assert (row["method"], row["path"]) == ("GET", f"/v1/grantees/{grantee}/participants/{p['id']}")
    assert row["resources"] == {"participant_id": p["id"]}
    assert row["request_id"] == "req-read-1" == r.headers["x-request-id"]
    assert row["status"] == 200
    assert started - timedelta(seconds=5) <= row["at"] <= clock.now() + timedelta(seconds=5)

    # The same row through the API, as an auditor sees it.
    page = read_log(client, auth, grantee, subject="coord-7")
    assert page.status_code == 200, page.text
    (item,) = page.json()["items"]
    assert item["id"] == row["id"]
    assert item["request_id"] == "req-read-1"
    assert item["resources"] == {"participant_id": p["id"]}
    assert page.json()["next_after"] is None


def test_refusals_and_reads_without_personal_data_leave_no_row(
    client, auth, db, grantee, enrol, make_grantee
):
    p = enrol()
    path = f"/v1/grantees/{grantee}/participants/{p['id']}"
    other = make_grantee()
    refused = [
        (path, auth("federal_oversight", grantee, sub="refused-1"), 403),  # role not allowed
        (path, auth("peer_mentor", grantee, sub="refused-2"), 404),  # not their mentee
        (path, auth("coordinator", other, sub="refused-3"), 404),  # another grantee's token
        (
            f"/v1/grantees/{grantee}/participants/00000000-0000-4000-8000-000000000000",
            auth("coordinator", grantee, sub="refused-4"),
            404,
        ),
        (path, {"Authorization": "Bearer nonsense"}, 401),
    ]
    before = len(log_rows(db, grantee))
    for url, headers, status in refused:
        assert client.get(url, headers=headers).status_code == status, url
    r = client.get(
        f"/v1/grantees/{grantee}/facilities", headers=auth("coordinator", grantee, sub="quiet")
    )
    assert r.status_code == 200  # facilities carry no personal data
    assert len(log_rows(db, grantee)) == before
    assert log_rows(db, other) == []


def test_commands_answering_with_personal_data_are_recorded(client, auth, db, grantee, enrol):
    h = auth("case_manager", grantee, sub="cm-1")
    p = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            "first_name": "Rae",
            "last_name": "Quinn",
            "date_of_birth": "1991-05-02",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        },
        headers=h,
    )
    assert p.status_code == 201, p.text
    (row,) = log_rows(db, grantee, subject="cm-1")
    assert (row["method"], row["action"], row["status"]) == ("POST", "participants.enroll", 201)
    assert row["roles"] == ["case_manager"]


def test_every_role_reading_personal_data_is_recorded_in_its_capacity(
    client, auth, db, grantee, enrol
):
    p = enrol()
    for role in ("grantee_admin", "case_manager", "auditor"):
        r = client.get(
            f"/v1/grantees/{grantee}/participants/{p['id']}/history",
            headers=auth(role, grantee, sub=f"who-{role}"),
        )
        assert r.status_code == 200
        (row,) = log_rows(db, grantee, subject=f"who-{role}")
        assert row["roles"] == [role]
        assert row["action"] == "participants.read"
    # Ids named in the query are recorded beside the path's.
    r = client.get(
        f"/v1/grantees/{grantee}/goals",
        params={"participant_id": p["id"], "status": "active"},
        headers=auth("coordinator", grantee, sub="who-goals"),
    )
    assert r.status_code == 200, r.text
    (row,) = log_rows(db, grantee, subject="who-goals")
    assert row["resources"] == {"participant_id": p["id"]}
    assert row["path"] == f"/v1/grantees/{grantee}/goals"


def test_the_access_log_is_append_only(client, auth, db, database_url, grantee, enrol):
    """Neither the service's role (no right to change it) nor the table's owner (stopped by the
    same append-only trigger as the event log) can rewrite or remove a row."""
    p = enrol()
    r = client.get(
        f"/v1/grantees/{grantee}/participants/{p['id']}", headers=auth("coordinator", grantee)
    )
    assert r.status_code == 200
    assert log_rows(db, grantee)
    for statement in (
        f"UPDATE \"g_{grantee}\".access_log SET subject = 'someone-else'",
        f'DELETE FROM "g_{grantee}".access_log',
        f'TRUNCATE "g_{grantee}".access_log',
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction() as cur:
            cur.execute(statement)
        with (
            psycopg.connect(database_url, autocommit=True) as owner,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        ):
            owner.execute(statement)
    assert {r["subject"] for r in log_rows(db, grantee)} == {"test-coordinator"}


def test_other_grantees_reads_never_appear(client, auth, db, make_grantee):
    a, b = make_grantee(), make_grantee()
    body = {
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": birth_date(),
        "program_entry_date": "2026-02-01",
        "facility": "FCI-A",
        "cohort": "C1",
    }
    pa = client.post(f"/v1/grantees/{a}/participants", json=body, headers=auth("coordinator", a))
    assert pa.status_code == 201
    r = client.get(
        f"/v1/grantees/{a}/participants/{pa.json()['id']}",
        headers=auth("coordinator", a, sub="reader-of-a"),
    )
    assert r.status_code == 200
    assert len(log_rows(db, a, subject="reader-of-a")) == 1
    page = read_log(client, auth, b)
    assert page.status_code == 200
    assert all(i["path"].startswith(f"/v1/grantees/{b}/") for i in page.json()["items"])
    assert not [i for i in page.json()["items"] if i["subject"] == "reader-of-a"]
    assert log_rows(db, b, subject="reader-of-a") == []
    # An auditor of b cannot read a's log at all.
    r = client.get(f"/v1/grantees/{a}/audit/access-log", headers=auth("auditor", b))
    assert (r.status_code, r.json()["code"]) == (404, "grantee_not_found")


def test_auditors_page_and_filter_the_log_and_their_reading_is_recorded(
    client, auth, db, grantee, enrol
):
    p = enrol()
    path = f"/v1/grantees/{grantee}/participants/{p['id']}"
    for _ in range(5):
        client.get(path, headers=auth("coordinator", grantee, sub="pager"))
    seen: list[int] = []
    after = 0
    while True:
        r = read_log(
            client, auth, grantee, role="grantee_admin", subject="pager", limit=2, after=after
        )
        assert r.status_code == 200, r.text
        seen += [i["id"] for i in r.json()["items"]]
        after = r.json()["next_after"]
        if after is None:
            break
    assert seen == [row["id"] for row in log_rows(db, grantee, subject="pager")]
    assert len(seen) == 5

    rows = log_rows(db, grantee, subject="pager")
    since = rows[2]["at"].isoformat()
    until = rows[3]["at"].isoformat()
    r = read_log(client, auth, grantee, subject="pager", since=since, until=until)
    assert [i["id"] for i in r.json()["items"]] == [
        row["id"] for row in rows if rows[2]["at"] <= row["at"] < rows[3]["at"]
    ]
    r = read_log(client, auth, grantee, action="participants.enroll")
    assert {i["action"] for i in r.json()["items"]} == {"participants.enroll"}

    # Reading the log is itself recorded (who watched the log, and when).
    reads = log_rows(db, grantee, action="audit.access_log")
    assert {r["subject"] for r in reads} == {"test-grantee_admin", "test-auditor"}
    assert {tuple(r["roles"]) for r in reads} == {("grantee_admin",), ("auditor",)}


def test_the_log_pages_newest_first_by_its_before_cursor(client, auth, db, grantee, enrol):
    p = enrol()
    path = f"/v1/grantees/{grantee}/participants/{p['id']}"
    for _ in range(5):
        client.get(path, headers=auth("coordinator", grantee, sub="recent"))
    seen: list[int] = []
    params: dict[str, Any] = {"subject": "recent", "limit": 2, "newest_first": "true"}
    while True:
        r = read_log(client, auth, grantee, **params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["next_after"] is None
        seen += [i["id"] for i in page["items"]]
        if page["next_before"] is None:
            break
        assert len(page["items"]) == 2
        params["before"] = page["next_before"]
    rows = [row["id"] for row in log_rows(db, grantee, subject="recent")]
    assert len(rows) == 5 and seen == rows[::-1]
    # `before` also bounds a page in id order, and a page in id order has no `next_before`.
    r = read_log(client, auth, grantee, subject="recent", before=rows[2])
    assert [i["id"] for i in r.json()["items"]] == rows[:2]
    assert r.json()["next_before"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "2026-03-01T09:00:00"}, "invalid_instant"),
        ({"before": 0}, "invalid_request"),
        ({"newest_first": "newest"}, "invalid_request"),
        ({"until": "soon"}, "invalid_instant"),
        ({"after": -1}, "invalid_request"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 501}, "invalid_request"),
    ],
)
def test_bad_access_log_parameters_are_400_problems(client, auth, grantee, params, code):
    r = read_log(client, auth, grantee, **params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


def test_only_auditors_and_grantee_admins_read_the_access_log(client, auth, grantee):
    for role in ("coordinator", "case_manager", "peer_mentor", "federal_oversight", "rrc_staff"):
        r = read_log(client, auth, grantee, role=role)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), role


def test_a_read_that_cannot_be_recorded_is_withheld(client, auth, db, grantee, enrol):
    p = enrol(first_name="Secretia")
    table = f'"g_{grantee}".access_log'
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {table} RENAME TO access_log_away")
    try:
        r = client.get(
            f"/v1/grantees/{grantee}/participants/{p['id']}", headers=auth("coordinator", grantee)
        )
    finally:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE "g_{grantee}".access_log_away RENAME TO access_log')
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "access_log_unavailable"
    assert "Secretia" not in r.text
    assert r.headers["x-request-id"]


def test_the_access_log_table_comes_with_migration(client, auth, db, app):
    """A grantee made before the access log existed gets it when the service starts."""
    slug = unique_slug("al")
    r = client.post(
        "/v1/grantees",
        json={"slug": slug, "name": "Old grantee", "grant_number": "FS-0003-26"},
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201
    with psycopg.connect(db.url, autocommit=True) as conn:
        # As code from before the access log left it: no table, migrated by an older stamp.
        conn.execute(f'DROP TABLE "g_{slug}".access_log')
        conn.execute("UPDATE prowd.migrated SET stamp = 'older code' WHERE slug = %s", (slug,))
    app.state.tenancy.migrate()
    assert log_rows(db, slug) == []
    r = client.get(f"/v1/grantees/{slug}/audit/access-log", headers=auth("auditor", slug))
    assert r.status_code == 200
    assert [i["action"] for i in r.json()["items"]] == []
    assert [row["action"] for row in log_rows(db, slug)] == ["audit.access_log"]


def test_auditor_reads_of_the_log_are_recorded(client, auth, db, grantee, enrol):
    p = enrol()
    h = auth("auditor", grantee, sub="auditor-9")
    r = client.get(f"/v1/grantees/{grantee}/audit/events", params={"limit": 2}, headers=h)
    assert r.status_code == 200
    r = client.get(
        f"/v1/grantees/{grantee}/audit/participants/{p['id']}",
        params={"as_of": clock.now().isoformat()},
        headers=h,
    )
    assert r.status_code == 200, r.text
    rows = log_rows(db, grantee, subject="auditor-9")
    assert [(row["action"], row["roles"], row["status"]) for row in rows] == [
        ("audit.events", ["auditor"], 200),
        ("audit.as_of", ["auditor"], 200),
    ]
    assert rows[1]["resources"] == {"participant_id": p["id"]}


@pytest.mark.parametrize("path", ["participants", "meetings"])
def test_a_list_read_that_cannot_be_recorded_is_withheld(client, auth, db, grantee, enrol, path):
    """The caseload and the meeting log write their access-log row in their own transaction
    (`recorded_read`, pipelined with its COMMIT): a row that cannot be written still withholds
    the answer."""
    enrol(first_name="Secretia")
    table = f'"g_{grantee}".access_log'
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {table} RENAME TO access_log_away")
    try:
        r = client.get(f"/v1/grantees/{grantee}/{path}", headers=auth("coordinator", grantee))
    finally:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE "g_{grantee}".access_log_away RENAME TO access_log')
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "access_log_unavailable"
    assert "Secretia" not in r.text
    again = client.get(f"/v1/grantees/{grantee}/{path}", headers=auth("coordinator", grantee))
    assert again.status_code == 200, again.text
