"""Errors say what is wrong and where (issue 20, docs/errors.md "Parameters"): each case
answers a problem with its status and `code`, and a `detail` that names the parameter."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest

from services.identity.access import Role
from services.identity.tokens import issue_token
from services.projector import live as projector

PROBLEM = "application/problem+json"


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = dict(r.json())
    assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    ("query", "name", "value"),
    [("limit=100000", "limit", "100000"), ("stage=4", "stage", "4"), ("limit=x", "limit", "x")],
)
def test_a_bad_query_parameter_is_named_with_its_value(client, auth, grantee, query, name, value):
    r = client.get(
        f"/v1/grantees/{grantee}/participants?{query}", headers=auth("coordinator", grantee)
    )
    body = problem(r, 400, "invalid_request")
    assert f"query parameter '{name}'" in body["detail"]
    assert repr(value) in body["detail"]
    assert "body" not in body["detail"]
    assert body["errors"][0]["source"] == "query"


def test_a_malformed_uuid_in_a_path_names_the_path_parameter(client, auth, grantee):
    r = client.get(
        f"/v1/grantees/{grantee}/participants/not-a-uuid", headers=auth("coordinator", grantee)
    )
    body = problem(r, 404, "not_found")
    assert "path parameter 'participant_id'" in body["detail"]
    assert "'not-a-uuid'" in body["detail"]


def test_a_route_that_does_not_exist_stays_a_plain_404(client, auth, grantee):
    r = client.get(f"/v1/grantees/{grantee}/nothing-here", headers=auth("coordinator", grantee))
    problem(r, 404, "not_found")


@pytest.mark.parametrize(
    "path", ["participants", "facilities", "pairings", "exports", "webhook-endpoints"]
)
def test_a_cursor_the_list_never_handed_out_is_400(client, auth, grantee, enrol, path):
    enrol()
    role = "grantee_admin" if path in ("exports", "webhook-endpoints") else "coordinator"
    r = client.get(f"/v1/grantees/{grantee}/{path}?cursor=garbage", headers=auth(role, grantee))
    body = problem(r, 400, "invalid_cursor")
    assert "cursor" in body["detail"]


def test_a_cursor_handed_out_still_pages(client, auth, db, grantee, enrol):
    for _ in range(3):
        enrol()
    projector.drain(db, f"g_{grantee}")
    h = auth("coordinator", grantee)
    first = client.get(f"/v1/grantees/{grantee}/participants?limit=2", headers=h).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(
        f"/v1/grantees/{grantee}/participants?limit=2&cursor={first['next_cursor']}", headers=h
    )
    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) == 1


def list_operations(client: Any) -> list[str]:
    spec = client.get("/schema/openapi.json").json()
    return [
        path
        for path, item in spec["paths"].items()
        if "get" in item
        and path.startswith("/v1/")
        and any(p["name"] == "limit" for p in item["get"].get("parameters", []))
    ]


def test_an_unknown_query_parameter_is_400_on_every_list(client, settings, grantee):
    token = issue_token(
        settings, subject="all-roles", roles=[r.value for r in Role], grantees=["*"]
    )
    h = {"Authorization": f"Bearer {token}"}
    paths = list_operations(client)
    assert len(paths) > 20
    wrong = []
    for template in paths:
        path = template.replace("{grantee}", grantee)
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
        # A name no list declares (search and sort parameters, once declared, are allowed).
        r = client.get(f"{path}?lookup=Luis", headers=h)
        body = r.json()
        if (
            r.status_code != 400
            or body.get("code") != "unknown_parameter"
            or "'lookup'" not in body.get("detail", "")
            or "limit" not in body.get("detail", "")
        ):
            wrong.append((template, r.status_code, body.get("code")))
    assert wrong == []


def test_declared_parameters_are_allowed_and_listed(client, auth, grantee):
    h = auth("coordinator", grantee)
    r = client.get(f"/v1/grantees/{grantee}/participants?order_by=name", headers=h)
    body = problem(r, 400, "unknown_parameter")
    for declared in ("limit", "cursor", "stage", "status", "facility", "cohort"):
        assert declared in body["detail"]
    ok = client.get(f"/v1/grantees/{grantee}/participants?stage=1&limit=5", headers=h)
    assert ok.status_code == 200, ok.text


def token_with(settings: Any, **changes: Any) -> str:
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "someone",
        "iat": 1,
        "exp": 4_000_000_000,
        "roles": ["coordinator"],
        "grantees": ["*"],
    }
    secret = changes.pop("secret", settings.jwt_secret)
    claims.update(changes)
    return jwt.encode(claims, secret, algorithm="HS256")


def test_token_errors_say_what_is_wrong_without_library_internals(client, settings, grantee):
    cases = [
        ("abc.\xb7def", "malformed"),
        ("not-a-token", "malformed"),
        (token_with(settings, exp=1000), "expired"),
        (token_with(settings, aud="someone-else"), "wrong audience"),
        (token_with(settings, iss="https://elsewhere.example"), "wrong issuer"),
        (token_with(settings, secret="another-secret-of-32-bytes-or-more!!"), "signature"),
    ]
    for token, words in cases:
        r = client.get(
            f"/v1/grantees/{grantee}/participants",
            headers={"Authorization": f"Bearer {token}".encode("latin-1")},
        )
        body = problem(r, 401, "not_authenticated")
        assert words in body["detail"], (token, body["detail"])
        assert "utf-8" not in body["detail"] and "codec" not in body["detail"]


def test_the_access_log_filters_by_participant(client, auth, grantee, enrol):
    a, b = enrol(), enrol(first_name="Bo")
    h = auth("coordinator", grantee)
    for p in (a, b):
        assert (
            client.get(f"/v1/grantees/{grantee}/participants/{p['id']}", headers=h).status_code
            == 200
        )
    r = client.get(
        f"/v1/grantees/{grantee}/audit/access-log?participant_id={a['id']}",
        headers=auth("auditor", grantee),
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["resources"]["participant_id"] == a["id"] for i in items)
    bad = client.get(
        f"/v1/grantees/{grantee}/audit/access-log?participant_id=abc",
        headers=auth("auditor", grantee),
    )
    assert "query parameter 'participant_id'" in problem(bad, 400, "invalid_request")["detail"]


def test_head_health_is_200(client):
    r = client.head("/health")
    assert r.status_code == 200
    assert r.content == b""


def test_a_one_value_parameter_given_twice_is_refused(client, auth, grantee, enrol):
    """`stage=1&stage=3` used to answer for stage 3 alone, and `limit=1&limit=abc` quoted '1'
    as the value it refused: which value was meant cannot be known, so neither is taken."""
    enrol()
    h = auth("coordinator", grantee)
    base = f"/v1/grantees/{grantee}/participants"
    r = client.get(f"{base}?stage=1&stage=3", headers=h)
    body = problem(r, 400, "repeated_parameter")
    assert (
        "query parameter 'stage' is given 2 times ('1', '3'); it takes one value"
        in (body["detail"])
    )
    assert body["errors"] == [
        {"message": "given more than once", "key": "stage", "source": "query"}
    ]
    for query in ("limit=abc&limit=1", "limit=1&limit=abc"):
        problem(client.get(f"{base}?{query}", headers=h), 400, "repeated_parameter")
    assert client.get(f"{base}?stage=1&limit=5", headers=h).status_code == 200
