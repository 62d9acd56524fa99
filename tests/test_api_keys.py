"""RRC API keys over HTTP with PostgreSQL: issued once by a grantee admin, stored only as a
hash, scoped to one grantee and one RRC, revocable, with their last use recorded."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import clock
from services.identity import apikeys
from services.projector import live as projector
from tests.meetings_helpers import World

KEY = re.compile(r"^prowd_rk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


class Keys:
    """A grantee (World) with RRC-1 and RRC-2 and a resident at each."""

    def __init__(self, w: World) -> None:
        self.w = w
        w.post("/facilities", {"code": "RRC-2", "name": "Facility RRC-2", "kind": "rrc"})
        self.one, self.two = w.enrol(name="Una"), w.enrol(name="Tia")
        for who, rrc in ((self.one, "RRC-1"), (self.two, "RRC-2")):
            w.post(
                f"/participants/{who}/stage-transitions",
                {
                    "to_stage": 2,
                    "placement": "rrc",
                    "facility": rrc,
                    "occurred_at": "2025-11-01T12:00:00Z",
                },
            )
            # Served every 60 days since: a resident 90 days without service has exited
            # (decision 97), and a derived exit stands (decision 85).
            on, today = date(2025, 11, 15), clock.today(ZoneInfo(w.time_zone))
            while on <= today:
                w.post(
                    f"/participants/{who}/case-contacts",
                    {"contacted_on": on.isoformat(), "mode": "phone"},
                )
                on += timedelta(days=60)
        projector.drain(w.db, w.schema)

    def issue(self, rrc: str = "RRC-1", description: str = "RRC resident system") -> Any:
        out = self.w.post(
            "/api-keys", {"rrc": rrc, "description": description}, role="grantee_admin"
        )
        assert KEY.fullmatch(out["key"]), out
        return out

    def call(self, key: str, path: str, grantee: str | None = None, **params: Any) -> Any:
        base = f"/v1/grantees/{grantee}" if grantee else self.w.base
        return self.w.client.get(
            base + path, params=params, headers={"Authorization": f"Bearer {key}"}
        )

    def listing(self, **params: Any) -> Any:
        return self.w.get("/api-keys", role="grantee_admin", **params)

    def record(self, key_id: str) -> dict[str, Any]:
        items = self.listing(limit=500)["items"]
        return next(k for k in items if k["id"] == key_id)


@pytest.fixture
def keys(client: Any, auth: Any, db: Any) -> Keys:
    return Keys(World(client, auth, db))


def test_a_key_reads_its_rrc_only(keys: Keys) -> None:
    issued = keys.issue()
    assert issued["rrc"] == "RRC-1" and issued["created_by"] == "test-grantee_admin"
    key = issued["key"]
    r = keys.call(key, "/rrc/RRC-1/residents")
    assert r.status_code == 200, r.text
    assert [x["participant_id"] for x in r.json()["items"]] == [keys.one]
    assert keys.call(key, "/rrc/RRC-1/meetings").status_code == 200
    for path in ("/rrc/RRC-2/residents", "/rrc/RRC-2/meetings", f"/rrc/RRC-1/residents/{keys.two}"):
        r = keys.call(key, path)
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    # Its role allows nothing but the RRC view.
    # Only the RRC view: not even what rrc_staff tokens may read besides (facilities, policy).
    for path in ("", "/participants", "/api-keys", "/facilities/RRC-1", "/policy", "/resources"):
        r = keys.call(key, path)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (path, r.text)
    # Another grantee is not found, even with an RRC of the same code.
    other = World(keys.w.client, keys.w.auth, keys.w.db)
    r = keys.call(key, "/rrc/RRC-1/residents", grantee=other.slug)
    assert r.status_code == 404 and r.json()["code"] == "grantee_not_found"


def test_a_key_is_told_another_grantee_is_not_found_whatever_the_route(keys: Keys) -> None:
    """A grantee the key does not cover is not found before any role check: a 403 on some
    routes would tell its holder that the grantee exists."""
    key = keys.issue()["key"]
    other = World(keys.w.client, keys.w.auth, keys.w.db)
    paths = ("/rrc/RRC-1/residents", "/facilities", "", "/participants", "/api-keys", "/policy")
    for grantee in (other.slug, "no_such_grantee"):
        for path in paths:
            r = keys.call(key, path, grantee=grantee)
            assert r.status_code == 404, (grantee, path, r.text)
            assert r.json()["code"] == "grantee_not_found", (grantee, path, r.text)
    # A write, too, before its body is looked at.
    r = keys.w.client.post(
        f"/v1/grantees/{other.slug}/facilities",
        json={"code": "RRC-9", "name": "x", "kind": "rrc"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert (r.status_code, r.json()["code"]) == (404, "grantee_not_found"), r.text


def test_the_secret_is_shown_once_and_never_stored(keys: Keys) -> None:
    issued = keys.issue()
    key = issued["key"]
    secret = KEY.fullmatch(key).group(2)  # type: ignore[union-attr]
    assert len(secret) == 43  # 32 random bytes, base64url without padding
    db = keys.w.db
    rows = db.fetchall(
        "SELECT t::text, secret_hash FROM prowd.api_keys t WHERE grantee = %s", (keys.w.slug,)
    )
    assert len(rows) == 1
    assert secret not in rows[0][0] and key not in rows[0][0]
    assert bytes(rows[0][1]) == hashlib.sha256(secret.encode()).digest()
    in_log = db.fetchone(
        f'SELECT count(*) FROM "{keys.w.schema}".events'
        " WHERE position(%s in encode(state, 'escape')) > 0"
        " OR position(%s in encode(state, 'escape')) > 0",
        (secret, hashlib.sha256(secret.encode()).hexdigest()),
    )
    assert in_log == (0,)
    assert keys.w.topics_of(issued["id"]) == ["Issued"]
    # Nor in the idempotency record, nor in any listing.
    listing = keys.w.client.get(
        keys.w.base + "/api-keys", headers=keys.w.headers("grantee_admin")
    ).text
    assert secret not in listing
    assert set(keys.record(issued["id"])) == {
        "id",
        "rrc",
        "description",
        "created_at",
        "created_by",
        "revoked_at",
        "last_used_at",
    }


def test_a_replayed_issue_does_not_show_the_key_again(keys: Keys) -> None:
    headers = {**keys.w.headers("grantee_admin"), "Idempotency-Key": "issue-1"}
    body = {"rrc": "RRC-1", "description": "RRC resident system"}
    first = keys.w.client.post(keys.w.base + "/api-keys", json=body, headers=headers)
    again = keys.w.client.post(keys.w.base + "/api-keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert KEY.fullmatch(first.json()["key"]) and again.json()["key"] is None
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    match = KEY.fullmatch(first.json()["key"])
    assert match is not None
    secret = match.group(2)
    stored = keys.w.db.fetchone(
        f'SELECT count(*) FROM "{keys.w.schema}".idempotency t WHERE position(%s in t::text) > 0',
        (secret,),
    )
    assert stored == (0,)
    assert len(keys.listing()["items"]) == 1


def test_revoked_unknown_and_forged_keys_are_not_authenticated(keys: Keys) -> None:
    issued = keys.issue()
    key, key_id = issued["key"], issued["id"]
    assert keys.call(key, "/rrc/RRC-1/residents").status_code == 200
    match = KEY.fullmatch(key)
    assert match is not None
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    unknown_id = f"prowd_rk_{'0' * 32}_{match.group(2)}"
    for bad in (wrong_secret, unknown_id, "prowd_rk_", "prowd_rk_" + "x" * 80, key + "x"):
        r = keys.call(bad, "/rrc/RRC-1/residents")
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated", bad
        assert r.headers["WWW-Authenticate"] == "Bearer"

    before = keys.w.events()
    revoked = keys.w.post(
        f"/api-keys/{key_id}/revoke",
        {"reason": "system replaced"},
        role="grantee_admin",
        status=200,
    )
    assert revoked["id"] == key_id and revoked["revoked_at"] is not None
    assert keys.w.events() == before + 1
    assert keys.w.topics_of(key_id) == ["Issued", "Revoked"]
    r = keys.call(key, "/rrc/RRC-1/residents")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert "items" not in r.text
    keys.w.refused(f"/api-keys/{key_id}/revoke", {}, "api_key_revoked", role="grantee_admin")
    # Another key for the same RRC is unaffected.
    assert keys.call(keys.issue()["key"], "/rrc/RRC-1/residents").status_code == 200


def test_a_key_is_revoked_without_a_body_as_with_an_empty_one(keys: Keys) -> None:
    """The reason is optional, so the command needs no body at all (like disabling a webhook
    endpoint); a body, when sent, is still read."""
    admin = keys.w.headers("grantee_admin")
    bare = keys.issue()
    r = keys.w.client.post(f"{keys.w.base}/api-keys/{bare['id']}/revoke", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    assert keys.call(bare["key"], "/rrc/RRC-1/residents").status_code == 401
    reasoned = keys.issue()
    r = keys.w.client.post(
        f"{keys.w.base}/api-keys/{reasoned['id']}/revoke",
        json={"reason": "system replaced"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = keys.w.client.post(
        f"{keys.w.base}/api-keys/{keys.issue()['id']}/revoke", json={"why": "x"}, headers=admin
    )
    assert r.status_code == 400, r.text


def test_last_use_is_recorded_at_most_once_a_minute(keys: Keys) -> None:
    issued = keys.issue()
    assert keys.record(issued["id"])["last_used_at"] is None
    assert keys.call(issued["key"], "/rrc/RRC-1/residents").status_code == 200
    first = keys.record(issued["id"])["last_used_at"]
    assert first is not None
    assert keys.call(issued["key"], "/rrc/RRC-1/meetings").status_code == 200
    assert keys.record(issued["id"])["last_used_at"] == first
    # A minute later, the next use moves it on.
    later = datetime.fromisoformat(first) + timedelta(seconds=61)
    apikeys.authenticate(keys.w.db, issued["key"], now=later)
    assert datetime.fromisoformat(keys.record(issued["id"])["last_used_at"]) == later


def test_only_an_rrc_of_the_grantee_gets_a_key(keys: Keys) -> None:
    w = keys.w
    problem = w.refused(
        "/api-keys", {"rrc": "RRC-9", "description": "x"}, "unknown_rrc", role="grantee_admin"
    )
    assert "RRC-9" in problem["detail"]
    w.refused(
        "/api-keys",
        {"rrc": "FCI-A", "description": "x"},
        "facility_wrong_kind",
        role="grantee_admin",
    )
    w.refused(
        "/api-keys",
        {"rrc": "RRC-1", "description": "   "},
        "api_key_description_required",
        role="grantee_admin",
    )
    w.refused(
        "/api-keys",
        {"rrc": "rrc 1", "description": "x"},
        "invalid_request",
        role="grantee_admin",
        status=400,
    )
    for role in ("coordinator", "case_manager", "rrc_staff", "auditor"):
        w.refused(
            "/api-keys", {"rrc": "RRC-1", "description": "x"}, "forbidden", role=role, status=403
        )
    assert w.get("/api-keys", role="auditor")["items"] == []
    assert w.get("/api-keys", role="coordinator", status=403)["code"] == "forbidden"


def test_keys_list_in_pages_and_stay_within_their_grantee(keys: Keys) -> None:
    ids = sorted(keys.issue(description=f"system {i}")["id"] for i in range(3))
    first = keys.listing(limit=2)
    assert [k["id"] for k in first["items"]] == ids[:2] and first["next_cursor"] == ids[1]
    second = keys.listing(limit=2, cursor=first["next_cursor"])
    assert [k["id"] for k in second["items"]] == ids[2:] and second["next_cursor"] is None
    assert keys.w.get("/api-keys", role="grantee_admin", status=400, cursor="nope")
    other = World(keys.w.client, keys.w.auth, keys.w.db)
    assert other.get("/api-keys", role="grantee_admin")["items"] == []
    problem = other.post(f"/api-keys/{ids[0]}/revoke", {}, role="grantee_admin", status=404)
    assert problem["code"] == "not_found"
    assert all(k["revoked_at"] is None for k in keys.listing()["items"])
