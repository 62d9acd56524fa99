"""Requests at the edges, over every operation of the OpenAPI document (generated, not listed by
hand): a body that is not UTF-8 is a 400, a body that is not declared JSON a 415, a record named
in the path that does not exist a 404 (list routes included), a number out of its declared
range a 400. Each is a problem document, never a 500, and nothing is appended."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.identity.access import MATRIX, Role
from tests.conftest import count_events
from tests.test_role_matrix import example_body as media_example
from tests.test_role_matrix import fill, headers_for, operations

# Path parameters that name a grantee's record, and a value no record has.
UNKNOWN = {"code": "ZZ-9", "rrc": "ZZ-9", "figure": "no_such_figure"}
NOT_RECORDS = {"grantee", "quarter"}
# Values of required query parameters, by name.
QUERY_VALUES = {"as_of": "2026-06-01T00:00:00Z"}


@pytest.fixture(scope="module")
def world(client: TestClient[Litestar], make_grantee) -> dict[str, Any]:
    return {"spec": client.get("/schema/openapi.json").json(), "slug": make_grantee()}


def allowed(auth, action: str, slug: str) -> dict[str, str]:
    """A token of a role the matrix allows for `action` (the least special one)."""
    rule = MATRIX[action]
    role = (
        sorted(rule.roles - {Role.RRC_STAFF})[0]
        if rule.roles - {Role.RRC_STAFF}
        else Role.RRC_STAFF
    )
    grantee = "*" if rule.scope == "platform" or role == Role.PLATFORM_ADMIN else slug
    return headers_for(auth, role, grantee)


def body_operations(app, spec) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for method, template, action in operations(app, spec):
        item = spec["paths"][template][method.lower()]
        if action is not None and "requestBody" in item:
            out.append((method, template, action, item))
    return out


def json_body_operations(app, spec) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The operations whose body is JSON (a document upload is a multipart form)."""
    return [
        op
        for op in body_operations(app, spec)
        if "application/json" in op[3]["requestBody"]["content"]
    ]


def example_body(item: dict[str, Any]) -> Any:
    """The operation's example body: of its media type, else of its schema."""
    body = media_example(item)
    if body == {}:
        for media in item["requestBody"]["content"].values():
            body = (media.get("schema", {}).get("examples") or [body])[0]
    return body


def required_query(item: dict[str, Any]) -> dict[str, str]:
    return {
        p["name"]: QUERY_VALUES[p["name"]]
        for p in item.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }


def is_problem(r: Any, status: int, code: str) -> bool:
    return (
        r.status_code == status
        and r.headers["content-type"].startswith("application/problem+json")
        and r.json()["code"] == code
    )


def test_a_body_that_is_not_utf8_is_a_400_on_every_route(app, client, auth, db, world):
    spec, slug = world["spec"], world["slug"]
    ops = json_body_operations(app, spec)
    assert len(ops) > 60
    before = count_events(db, slug)
    failures = []
    for method, template, action, item in ops:
        for body in (b'{"name": "Ann\xff"}', b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}'):
            r = client.request(
                method,
                fill(template, item, slug),
                content=body,
                headers={**allowed(auth, action, slug), "Content-Type": "application/json"},
            )
            if not is_problem(r, 400, "invalid_request") or "UTF-8" not in r.json()["detail"]:
                failures.append(f"{method} {template} {body!r}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert count_events(db, slug) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/xml",
        None,
    ],
)
def test_a_body_not_declared_json_is_a_415_on_every_route(
    app, client, auth, db, world, content_type
):
    spec, slug = world["spec"], world["slug"]
    before = count_events(db, slug)
    failures = []
    for method, template, action, item in json_body_operations(app, spec):
        headers = allowed(auth, action, slug)
        if content_type is not None:
            headers["Content-Type"] = content_type
        r = client.request(
            method,
            fill(template, item, slug),
            content=json.dumps(example_body(item)).encode(),
            headers=headers,
        )
        if not is_problem(r, 415, "unsupported_media_type"):
            failures.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert count_events(db, slug) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_and_json_suffixed_types_are_accepted(client, auth, grantee, content_type):
    r = client.post(
        f"/v1/grantees/{grantee}/facilities",
        content=b'{"code": "FCI-Q", "name": "FCI Q", "kind": "bop_institution"}',
        headers={**auth("coordinator", grantee), "Content-Type": content_type},
    )
    assert r.status_code == 201, r.text


def test_a_name_given_twice_in_a_body_is_refused_and_nothing_is_recorded(client, auth, grantee, db):
    """msgspec keeps the last of two equal names; a proxy or log may keep the first, so the
    record would differ from what was seen to be sent. Refused, whichever name it is."""
    h = {**auth("coordinator", grantee), "Content-Type": "application/json"}
    before = count_events(db, grantee)
    for body, twice in (
        (b'{"code": "FCI-R", "name": "FCI R", "name": "FCI S", "kind": "bop_institution"}', "name"),
        (b'{"code": "FCI-R", "name": "FCI R", "kind": "bop_institution", "code": "FCI-T"}', "code"),
    ):
        r = client.post(f"/v1/grantees/{grantee}/facilities", content=body, headers=h)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] == "invalid_request"
        assert f"the body gives '{twice}' more than once in one object" in problem["detail"]
        assert problem["errors"] == [
            {"message": "name given more than once", "key": twice, "source": "body"}
        ]
    assert count_events(db, grantee) == before
    once = b'{"code": "FCI-R", "name": "FCI R", "kind": "bop_institution"}'
    r = client.post(f"/v1/grantees/{grantee}/facilities", content=once, headers=h)
    assert r.status_code == 201, r.text


def test_an_empty_or_compressed_body_is_refused_in_words(client, auth, grantee, db):
    """An empty body said "Expected `object`, got `null`", and a gzip body "not valid UTF-8"."""
    h = {**auth("coordinator", grantee), "Content-Type": "application/json"}
    url = f"/v1/grantees/{grantee}/facilities"
    before = count_events(db, grantee)
    for empty in (b"", b"  \n"):
        r = client.post(url, content=empty, headers=h)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith(
            "the body is empty: this operation takes a JSON object"
        )
    zipped = gzip.compress(b'{"code": "FCI-Z", "name": "FCI Z", "kind": "bop_institution"}')
    r = client.post(url, content=zipped, headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "unsupported_media_type"
    assert "Content-Encoding 'gzip', which the service does not read" in r.json()["detail"]
    assert count_events(db, grantee) == before


def record_parameters(item: dict[str, Any]) -> list[str]:
    return [
        p["name"]
        for p in item.get("parameters", [])
        if p.get("in") == "path" and p["name"] not in NOT_RECORDS
    ]


def test_a_record_named_in_the_path_that_does_not_exist_is_a_404_on_every_route(
    app, client, auth, db, world
):
    """Commands and reads, single records and lists: the record the path names must exist."""
    spec, slug = world["spec"], world["slug"]
    before = count_events(db, slug)
    failures, checked = [], 0
    for method, template, action in operations(app, spec):
        item = spec["paths"][template][method.lower()]
        names = record_parameters(item)
        if action is None or not names or "{grantee}" not in template:
            continue
        path = fill(template, item, slug)
        for name in names:
            value = UNKNOWN.get(name, str(uuid.uuid4()))
            # Only this parameter names a missing record; the others keep existing values
            # where fill() knows one (an RRC, a facility code).
            path = fill(template.replace("{" + name + "}", value), item, slug)
            kwargs: dict[str, Any] = {
                "headers": allowed(auth, action, slug),
                "params": required_query(item),
            }
            if "multipart/form-data" in item.get("requestBody", {}).get("content", {}):
                form = example_body(item)
                kwargs["files"] = {"file": ("f.pdf", form.pop("file").encode(), "application/pdf")}
                kwargs["data"] = form
            elif "requestBody" in item:
                kwargs["json"] = example_body(item)
            r = client.request(method, path, **kwargs)
            checked += 1
            if r.status_code != 404 or not r.headers["content-type"].startswith(
                "application/problem+json"
            ):
                failures.append(f"{method} {template} ({name}): {r.status_code} {r.text[:160]}")
    assert checked > 60
    assert not failures, "\n".join(failures)
    assert count_events(db, slug) == before


def integer_parameters(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    out = []
    for template, path_item in spec["paths"].items():
        for method, item in path_item.items():
            for p in item.get("parameters", []):
                schema = p.get("schema", {})
                types = [schema.get("type")] + [o.get("type") for o in schema.get("oneOf", [])]
                # An enumeration is its own, tighter declaration.
                if p.get("in") == "query" and "integer" in str(types) and "enum" not in schema:
                    out.append((method.upper(), template, item, p["name"]))
    return out


def bounds(item: dict[str, Any], name: str) -> tuple[Any, Any]:
    schema = next(p["schema"] for p in item["parameters"] if p["name"] == name)
    # An optional parameter: the bounds stand in its integer branch.
    schema = next((o for o in schema.get("oneOf", []) if o.get("type") == "integer"), schema)
    return schema.get("minimum"), schema.get("maximum")


def test_every_numeric_query_parameter_declares_its_range(world):
    params = integer_parameters(world["spec"])
    assert len(params) > 40
    missing = [f"{m} {t} {n}: {bounds(i, n)}" for m, t, i, n in params if None in bounds(i, n)]
    assert not missing, "\n".join(missing)


def test_a_number_out_of_its_range_is_a_400_on_every_route(app, client, auth, world):
    spec, slug = world["spec"], world["slug"]
    actions = {(m, t): a for m, t, a in operations(app, spec)}
    failures = []
    for method, template, item, name in integer_parameters(spec):
        action = actions[(method, template)]
        headers = allowed(auth, action, slug) if action else {}
        low, high = bounds(item, name)
        for value in (int(high) + 1, int(low) - 1, 99999999999999999999, -99999999999999999999):
            r = client.request(
                method, fill(template, item, slug), params={name: str(value)}, headers=headers
            )
            if not is_problem(r, 400, "invalid_request"):
                failures.append(f"{method} {template} {name}={value}: {r.status_code}")
    assert not failures, "\n".join(failures)


def test_the_audit_stream_refuses_a_position_beyond_any_log(client, auth, grantee):
    r = client.get(
        f"/v1/grantees/{grantee}/audit/events",
        params={"after": "99999999999999999999"},
        headers=auth("auditor", grantee),
    )
    assert is_problem(r, 400, "invalid_request"), r.text
    assert "after" in r.text
