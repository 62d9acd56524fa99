"""Who may see what: other grantees' data answers 404 and shows nothing; roles without the
right answer 403; a missing, expired or forged token answers 401."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import jwt
import pytest

from services.identity.tokens import issue_token
from tests.conftest import count_events

SECRET_PERSON = {
    "first_name": "Zelda",
    "last_name": "Quixote",
    "number": "ZQ4242",
    "date_of_birth": "1985-05-05",
    "program_entry_date": "2026-02-01",
    "facility": "FCI-A",
    "cohort": "C1",
}


@pytest.fixture
def other(client, auth, make_grantee):
    """Grantee B with a participant and a facility whose names appear nowhere else."""
    slug = make_grantee()
    h = auth("coordinator", slug)
    r = client.post(
        f"/v1/grantees/{slug}/facilities",
        json={"code": "RRC-ZZ", "name": "Zanzibar House", "kind": "rrc"},
        headers=h,
    )
    assert r.status_code == 201
    r = client.post(f"/v1/grantees/{slug}/participants", json=SECRET_PERSON, headers=h)
    assert r.status_code == 201
    return slug, r.json()["id"]


def secrets_in(text: str) -> list[str]:
    return [s for s in ("Zelda", "Quixote", "ZQ4242", "Zanzibar", "RRC-ZZ") if s in text]


def reads(slug: str, pid: str) -> list[str]:
    base = f"/v1/grantees/{slug}"
    return [
        f"{base}/participants/{pid}",
        f"{base}/participants/{pid}/history",
        f"{base}/participants",
        f"{base}/facilities",
        f"{base}/facilities/RRC-ZZ",
        f"{base}/cohorts",
        base,
    ]


def test_another_grantees_data_is_not_found_and_not_shown(client, auth, grantee, other, db):
    slug, pid = other
    h = auth("coordinator", grantee)
    before = count_events(db, slug)
    for url in reads(slug, pid):
        r = client.get(url, headers=h)
        missing = client.get(url.replace(slug, "no_such_grantee"), headers=h)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("application/problem+json")
        assert secrets_in(r.text) == []
        # Indistinguishable from a grantee that does not exist.
        assert r.text.replace(slug, "X") == missing.text.replace("no_such_grantee", "X")
    for url, body in [
        (f"/v1/grantees/{slug}/participants", {**SECRET_PERSON, "number": "ZQ1"}),
        (
            f"/v1/grantees/{slug}/participants/{pid}/exit",
            {"exit_date": "2026-03-01", "reason": "other"},
        ),
    ]:
        assert client.post(url, json=body, headers=h).status_code == 404
    assert count_events(db, slug) == before


def test_another_grantees_participant_is_not_in_my_log(client, auth, grantee, other):
    _, pid = other
    h = auth("coordinator", grantee)
    for suffix in ("", "/history"):
        r = client.get(f"/v1/grantees/{grantee}/participants/{pid}{suffix}", headers=h)
        assert r.status_code == 404
        assert secrets_in(r.text) == []


@pytest.mark.parametrize("role", ["platform_admin", "federal_oversight", "rrc_staff"])
def test_roles_without_participant_access_are_forbidden(client, auth, other, role):
    slug, pid = other
    for grantees in ("*", slug):
        h = auth(role, grantees)
        for url in reads(slug, pid)[:3]:
            r = client.get(url, headers=h)
            assert r.status_code == 403, (role, url)
            assert r.json()["code"] == "forbidden"
            assert secrets_in(r.text) == []


def test_a_peer_mentor_sees_no_one_but_their_own_mentees(client, auth, other):
    slug, pid = other
    h = auth("peer_mentor", slug)
    for url in reads(slug, pid)[:2]:
        r = client.get(url, headers=h)
        assert r.status_code == 404, url
        assert secrets_in(r.text) == []
    r = client.get(f"/v1/grantees/{slug}/participants", headers=h)
    assert (r.status_code, r.json()["items"]) == (200, [])
    r = client.post(
        f"/v1/grantees/{slug}/participants/{pid}/exit",
        headers=h,
        json={"exit_date": "2026-03-01", "reason": "other"},
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("auditor", {"read"}),
        ("case_manager", {"read", "move"}),
        ("coordinator", {"read", "move", "facility"}),
        ("federal_oversight", set()),
    ],
)
def test_each_role_does_what_the_matrix_allows(client, auth, grantee, enrol, db, role, allowed):
    pid = enrol()["id"]
    h = auth(role, grantee)
    base = f"/v1/grantees/{grantee}"
    attempts = {
        "read": lambda: client.get(f"{base}/participants/{pid}", headers=h),
        "move": lambda: client.post(
            f"{base}/participants/{pid}/exit",
            headers=h,
            json={"exit_date": "2026-03-01", "reason": "other"},
        ),
        "facility": lambda: client.post(
            f"{base}/facilities", headers=h, json={"code": "RRC-2", "name": "Two", "kind": "rrc"}
        ),
    }
    for name, attempt in attempts.items():
        before = count_events(db, grantee)
        r = attempt()
        assert r.status_code == (200 if name == "read" else 201) if name in allowed else 403
        assert count_events(db, grantee) == before + (name in allowed and name != "read")


def test_the_platform_admin_manages_grantees_but_others_do_not(client, auth, grantee):
    assert client.get("/v1/grantees", headers=auth("platform_admin")).status_code == 200
    assert client.get("/v1/grantees", headers=auth("grantee_admin", grantee)).status_code == 403


def forged(settings) -> str:
    return issue_token(
        replace(settings, jwt_secret="another-secret-" + "y" * 40),
        subject="mallory",
        roles=["coordinator"],
        grantees=["*"],
    )


def tampered(settings, slug) -> str:
    header, payload, signature = issue_token(
        settings, subject="eve", roles=["peer_mentor"], grantees=[slug]
    ).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["grantee_admin"]
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def unsigned(settings) -> str:
    claims = jwt.decode(
        issue_token(settings, subject="x", roles=["coordinator"], grantees=["*"]),
        options={"verify_signature": False},
    )
    return jwt.encode(claims, key=None, algorithm="none")


@pytest.mark.parametrize(
    "header",
    [
        lambda s, g: {},
        lambda s, g: {"Authorization": "Bearer"},
        lambda s, g: {"Authorization": "Basic dXNlcjpwYXNz"},
        lambda s, g: {"Authorization": "Bearer not-a-jwt"},
        lambda s, g: {
            "Authorization": "Bearer "
            + issue_token(s, subject="late", roles=["coordinator"], grantees=[g], ttl_seconds=-120)
        },
        lambda s, g: {"Authorization": "Bearer " + forged(s)},
        lambda s, g: {"Authorization": "Bearer " + tampered(s, g)},
        lambda s, g: {"Authorization": "Bearer " + unsigned(s)},
        lambda s, g: {
            "Authorization": "Bearer "
            + issue_token(
                replace(s, jwt_audience="someone-else"),
                subject="x",
                roles=["coordinator"],
                grantees=[g],
            )
        },
        lambda s, g: {
            "Authorization": "Bearer "
            + issue_token(
                replace(s, jwt_issuer="elsewhere"), subject="x", roles=["coordinator"], grantees=[g]
            )
        },
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "garbage",
        "expired",
        "forged",
        "tampered",
        "alg-none",
        "audience",
        "issuer",
    ],
)
def test_without_a_valid_token_nothing_is_answered(client, settings, grantee, enrol, db, header):
    pid = enrol()["id"]
    h = header(settings, grantee)
    before = count_events(db, grantee)
    base = f"/v1/grantees/{grantee}/participants"
    for r in [
        client.get(f"{base}/{pid}", headers=h),
        client.get(base, headers=h),
        client.post(
            f"{base}/{pid}/exit", headers=h, json={"exit_date": "2026-03-01", "reason": "other"}
        ),
    ]:
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "not_authenticated"
        assert "Ann" not in r.text
    assert count_events(db, grantee) == before
