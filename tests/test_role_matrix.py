"""The role matrix, checked over every operation of the OpenAPI document (generated, not listed
by hand): each operation is called with no token, with a token of every role for the grantee,
and with an allowed role's token for another grantee.

Allowed → neither 401 nor 403 nor 5xx (a 4xx from validation or a missing record is fine);
denied → 403 with a problem body and nothing else; another grantee → 404; no token → 401.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.identity.access import MATRIX, Role

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}
# Path parameters that are not uuids, by name: values that exist in `make_grantee()`'s grantee.
NAMED_VALUES = {"rrc": "RRC-1", "code": "FCI-A", "facility": "FCI-A", "cohort": "C1"}


def operations(app: Litestar, spec: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(method, OpenAPI path, action) of every operation in the document."""
    actions: dict[tuple[str, str], str | None] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                path = route.path_format
                actions[(method.upper(), path)] = handler.opt.get("action")
    found = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, actions[(method.upper(), path)]))
    return sorted(found)


def fill(path: str, spec_item: dict[str, Any], grantee: str) -> str:
    for param in spec_item.get("parameters", []):
        if param.get("in") != "path":
            continue
        name = param["name"]
        schema = param.get("schema", {})
        if name == "grantee":
            value = grantee
        elif schema.get("format") == "uuid":
            value = str(uuid.uuid4())
        elif name in NAMED_VALUES:
            value = NAMED_VALUES[name]
        elif "quarter" in name:
            value = "2026Q1"
        else:
            value = "x"
        path = path.replace("{" + name + "}", value)
    return path


def example_body(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        for example in (media.get("examples") or {}).values():
            if "value" in example:
                return example["value"]
        if "example" in media:
            return media["example"]
    return {}


@pytest.fixture(scope="module")
def world(client: TestClient[Litestar], make_grantee) -> dict[str, Any]:
    spec = client.get("/schema/openapi.json").json()
    return {"spec": spec, "mine": make_grantee(), "other": make_grantee()}


def call(client, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, path, json=body, headers=headers)
    return client.request(method, path, headers=headers)


def headers_for(auth, role: str, grantee: str) -> dict[str, str]:
    if role == Role.RRC_STAFF:
        return auth(role, grantee, sub=f"matrix-{role}", rrc="RRC-1")
    return auth(role, grantee, sub=f"matrix-{role}")


def test_every_operation_is_in_the_matrix(app, world):
    ops = operations(app, world["spec"])
    assert len(ops) > 100
    for method, path, action in ops:
        assert action is None or action in MATRIX, (method, path, action)


def test_every_operation_answers_as_the_matrix_says(app, client, auth, world):
    spec = world["spec"]
    mine, other = world["mine"], world["other"]
    failures: list[str] = []
    checked = 0
    for method, template, action in operations(app, spec):
        item = spec["paths"][template][method.lower()]
        params = {"parameters": item.get("parameters", [])}
        body = example_body(item)
        path = fill(template, params, mine)
        if action is None:
            continue  # public: health, readiness, the public key, metrics
        rule = MATRIX[action]

        r = call(client, method, path, {}, body)
        checked += 1
        if r.status_code != 401:
            failures.append(f"{method} {template} without a token: {r.status_code}")

        for role in Role:
            platform_wide = rule.scope == "platform" or role == Role.PLATFORM_ADMIN
            # An RRC's staff token always names one grantee and its RRC.
            grantee = "*" if platform_wide and role != Role.RRC_STAFF else mine
            r = call(client, method, path, headers_for(auth, role, grantee), body)
            checked += 1
            if role in rule.roles:
                if r.status_code in (401, 403) or r.status_code >= 500:
                    failures.append(
                        f"{method} {template} as {role} (allowed): {r.status_code} {r.text[:200]}"
                    )
            else:
                if r.status_code != 403:
                    failures.append(f"{method} {template} as {role} (denied): {r.status_code}")
                elif set(r.json()) - PROBLEM_KEYS or r.json()["code"] != "forbidden":
                    failures.append(
                        f"{method} {template} as {role}: the refusal carries {r.text[:200]}"
                    )

        if rule.scope == "grantee":
            role = next((r for r in sorted(rule.roles) if r != Role.PLATFORM_ADMIN), None)
            if role is not None:
                r = call(client, method, path, headers_for(auth, role, other), body)
                checked += 1
                if r.status_code != 404 or r.json().get("code") != "grantee_not_found":
                    failures.append(
                        f"{method} {template} as {role} of another grantee: {r.status_code} {r.text[:200]}"
                    )
    print(f"role matrix: {checked} requests over {len(operations(app, spec))} operations")
    assert not failures, "\n".join(failures)
