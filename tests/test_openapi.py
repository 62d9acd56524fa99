"""The OpenAPI document is complete: every operation is described, every request body has an
example, and every grantee operation documents the problems it can answer with."""

from __future__ import annotations


def operations(client):
    spec = client.get("/schema/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_every_operation_has_a_description(client):
    missing = [(m, p) for p, m, op in operations(client) if not op.get("description")]
    assert missing == []


def test_every_request_body_has_an_example_that_is_json(client):
    missing = []
    for path, method, op in operations(client):
        body = op.get("requestBody")
        if body is None:
            continue
        if "application/json" in body["content"]:
            media = body["content"]["application/json"]
        elif "multipart/form-data" in body["content"]:
            # A document upload: a multipart form, its fields as the example.
            media = body["content"]["multipart/form-data"]
        else:
            # A file sent as itself (an import): each type shows an example or is binary.
            if not all(
                m.get("example") or m.get("schema", {}).get("format") == "binary"
                for m in body["content"].values()
            ):
                missing.append((method, path))
            continue
        examples = media.get("examples") or {}
        values = [e["value"] for e in examples.values()] or media.get("schema", {}).get(
            "examples", []
        )
        if not values or not all(isinstance(v, dict) for v in values):
            missing.append((method, path))
    assert missing == []


def test_every_grantee_operation_documents_its_problems(client):
    for path, method, op in operations(client):
        if not path.startswith("/v1/grantees/{grantee}"):
            continue
        responses = op["responses"]
        # An operation that asks for no token (a calendar feed) can answer neither 401 nor 403.
        anonymous = op.get("security") == []
        for status in ("400", "404", "503") if anonymous else ("400", "401", "403", "404", "503"):
            assert status in responses, (method, path, status)
            content = responses[status]["content"]["application/problem+json"]
            example = next(iter(content["examples"].values()))["value"]
            assert example["type"].startswith("urn:prowd:problem:"), (method, path, status)
            assert example["status"] == int(status)


def test_no_operation_lost_its_description_to_double_wrapping(client):
    """Two module-level handlers on one path get wrapped twice by Litestar (the description
    becomes the wrapper's docstring and a sync handler may never be awaited): handlers that
    share a path must sit in one Controller."""
    spec = client.get("/schema/openapi.json").json()
    wrapped = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "Wrap a given callable" in (op.get("description") or "")
    ]
    assert wrapped == []


def request_schemas(spec):
    """(where, schema) of every schema a request body is made of, every operation."""
    components = spec["components"]["schemas"]
    out = []

    def walk(s, where, seen):
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], where, seen | {name})
            return
        out.append((where, s))
        for key in ("oneOf", "anyOf", "allOf"):
            for option in s.get(key, []):
                walk(option, where, seen)
        for name, prop in s.get("properties", {}).items():
            walk(prop, f"{where}.{name}", seen)
        for key in ("items", "additionalProperties"):
            if isinstance(s.get(key), dict):
                walk(s[key], f"{where}[]", seen)

    for path, item in spec["paths"].items():
        for method, op in item.items():
            for media in op.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], f"{method.upper()} {path} $", frozenset())
    return out


def test_request_bodies_declare_what_they_refuse(client):
    """Schemas as strict as the API: a body refuses unknown fields, and every number carries
    the range the domain enforces (issue 24); texts are checked by tests/test_text_fields.py."""
    spec = client.get("/schema/openapi.json").json()
    schemas = request_schemas(spec)
    objects = [(w, s) for w, s in schemas if "properties" in s]
    assert len(objects) > 70
    assert [w for w, s in objects if s.get("additionalProperties") is not False] == []
    numbers = [(w, s) for w, s in schemas if s.get("type") in ("integer", "number")]
    assert len(numbers) > 15
    unbounded = [
        w
        for w, s in numbers
        if "enum" not in s
        and not (
            {"minimum", "exclusiveMinimum"} & set(s) and {"maximum", "exclusiveMaximum"} & set(s)
        )
    ]
    assert unbounded == []
    # Bounds stand in the branch they constrain, never beside a oneOf (where Litestar puts them).
    beside = [
        w for w, s in schemas if "oneOf" in s and {"pattern", "minimum", "maxLength"} & set(s)
    ]
    assert beside == []


def test_the_pirl_get_is_documented_as_a_read_and_the_post_as_the_command(client):
    """Decision 136: a client generated from the document sees that the `GET` serves a
    recorded file (404 `export_not_recorded` before any, no `allow_warnings`, no
    `Idempotency-Key`) and that the `POST` records (201) or answers the last export (200)."""
    ops = {
        method: op
        for path, method, op in operations(client)
        if path == "/v1/grantees/{grantee}/exports/pirl/{quarter}"
    }
    read, command = ops["get"], ops["post"]
    names = {p["name"] for p in read.get("parameters", [])}
    assert "allow_warnings" not in names and "Idempotency-Key" not in names
    examples = read["responses"]["404"]["content"]["application/problem+json"]["examples"]
    assert "export_not_recorded" in examples
    assert "Records nothing" in read["description"]
    assert {"200", "201"} <= set(command["responses"])
    assert "text/csv" in command["responses"]["200"]["content"]
    assert {"allow_warnings", "Idempotency-Key"} <= {p["name"] for p in command["parameters"]}
