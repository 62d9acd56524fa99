"""The OpenAPI document is a contract an integrator's tools accept (issue 20, docs/api.md
"The contract"): valid OpenAPI 3.1, every command declares `Idempotency-Key`, the statuses an
operation can answer with are documented, and every body has an example."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

COMMANDS = ("post", "put", "patch", "delete")


def spec_of(client: Any) -> dict[str, Any]:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "head", "post", "put", "patch", "delete")
    ]


def test_the_live_schema_is_valid_openapi_3_1(client):
    spec = spec_of(client)
    assert spec["openapi"].startswith("3.1")
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in OpenAPIV31SpecValidator(spec).iter_errors()
    ]
    assert errors == []


def test_every_command_declares_idempotency_key(client):
    missing = [
        (method, path)
        for path, method, op in operations(spec_of(client))
        if method in COMMANDS
        and path.startswith("/v1/")
        and not any(
            p.get("in") == "header" and p["name"] == "Idempotency-Key"
            for p in op.get("parameters", [])
        )
    ]
    assert missing == []


def test_statuses_are_documented_where_they_can_occur(client):
    gaps = []
    for path, method, op in operations(spec_of(client)):
        if not path.startswith("/v1/"):
            continue
        wanted = {"400", "401", "403", "429", "503"}
        if op.get("security") == []:  # no token asked: neither 401 nor 403 can occur
            wanted -= {"401", "403"}
        if "requestBody" in op:
            wanted.add("413")
        if method in COMMANDS:
            wanted |= {"409", "422"}
        if path.count("{") > 1 or (path.count("{") == 1 and "{grantee}" not in path):
            wanted.add("404")
        gaps += [(method, path, s) for s in sorted(wanted - set(op["responses"]))]
    assert gaps == []


def test_every_json_success_answer_has_an_example(client):
    missing = []
    for path, method, op in operations(spec_of(client)):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            for kind, media in response.get("content", {}).items():
                if kind.endswith("json") and not (media.get("examples") or "example" in media):
                    missing.append((method, path, status, kind))
    assert missing == []


def test_operation_ids_are_unique_and_present(client):
    ids = [op.get("operationId") for _, _, op in operations(spec_of(client))]
    assert None not in ids
    assert len(ids) == len(set(ids))


SPECTRAL = Path(__file__).resolve().parent.parent / "tools" / "spectral"


def test_the_live_schema_lints_clean_with_spectral_oas(client, tmp_path):
    """Spectral's standard `spectral:oas` ruleset, every severity (hints included): no result.
    Spectral is pinned in tools/spectral/package.json and installed there by `npm ci` (CI does
    it before the tests; the test itself runs offline)."""
    binary = SPECTRAL / "node_modules" / ".bin" / "spectral"
    if not binary.exists():
        if os.environ.get("CI"):
            pytest.fail("Spectral is not installed: run `npm ci --prefix tools/spectral`")
        pytest.skip("Spectral is not installed here: `npm ci --prefix tools/spectral` to run")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec_of(client)))
    run = subprocess.run(
        [
            str(binary),
            "lint",
            "-r",
            str(SPECTRAL / ".spectral.yaml"),
            "-f",
            "json",
            "-F",
            "hint",
            "-q",
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    results = json.loads(run.stdout or "[]")
    assert [(r["code"], ".".join(map(str, r["path"]))) for r in results] == []
    assert run.returncode == 0, run.stderr


def test_commands_that_do_not_need_the_key_say_so(client):
    """Queueing webhook messages again is idempotent by nature: the header is declared as
    accepted and not needed, never promised as a replay it is not."""
    spec = spec_of(client)
    for path, method, op in operations(spec):
        if path.endswith(("/redeliver", "/redeliveries", "/recover", "/ping")):
            (key,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
            assert "not needed" in key["description"], (method, path)


RECORDED_IDS = Path(__file__).resolve().parent / "openapi_operation_ids.txt"


def test_recorded_operation_ids_never_change(client):
    """Generated clients name their functions after `operationId`: an operation keeps its id.
    tests/openapi_operation_ids.txt records `METHOD path operationId`; an operation it records
    must still exist with the same id (a renamed handler or path would break clients). New
    operations are listed here to be added to the file."""
    current = {
        f"{method.upper()} {path}": op["operationId"]
        for path, method, op in operations(spec_of(client))
    }
    changed = []
    for line in RECORDED_IDS.read_text().splitlines():
        method, path, operation_id = line.split(" ")
        if current.get(f"{method} {path}") != operation_id:
            changed.append((line, current.get(f"{method} {path}")))
    assert changed == []
    recorded = {" ".join(line.split(" ")[:2]) for line in RECORDED_IDS.read_text().splitlines()}
    unrecorded = sorted(set(current) - recorded)
    print("operations to add to tests/openapi_operation_ids.txt:", unrecorded)


def test_no_two_schemas_share_a_model_name(client):
    """Generators name a model after the schema's `title` (else its component name)."""
    schemas = spec_of(client)["components"]["schemas"]
    names = [s.get("title") or name for name, s in schemas.items()]
    assert len(names) == len(set(names))


def _filled(path: str, op: dict[str, Any], grantee: str) -> str:
    """`path` with a value for each parameter: the grantee, else one its schema accepts."""
    for p in op.get("parameters", []):
        if p.get("in") != "path":
            continue
        name, schema = p["name"], p.get("schema", {})
        if name == "grantee":
            value = grantee
        elif schema.get("format") == "uuid":
            value = "00000000-0000-4000-8000-000000000001"
        elif schema.get("type") == "integer":
            value = "1"
        elif name == "quarter":
            value = "2026Q3"
        else:
            value = "x"
        path = path.replace("{" + name + "}", value)
    return path


def test_every_get_answers_without_a_token_as_its_security_says(client, grantee):
    """A generated client asks for a token where the document says one is needed: every GET
    sent without one answers 401 unless its operation declares that none is (`security: []`,
    or `[{}, …]`: optional), and those answer without one (found by an integrator: the
    health checks and the audit keys inherited the bearer requirement)."""
    spec = spec_of(client)
    anonymous = []
    for path, method, op in operations(spec):
        if method != "get":
            continue
        r = client.get(_filled(path, op, grantee))
        if "security" in op:
            assert op["security"] == [] or {} in op["security"], (path, op["security"])
            assert r.status_code != 401, (path, r.text)
            assert "403" not in op["responses"] or op["security"], path
            anonymous.append(path)
        else:
            assert r.status_code == 401, (path, r.status_code, r.text[:200])
    assert sorted(anonymous) == [
        "/health",
        "/metrics",
        "/ready",
        "/v1/audit/public-key",
        "/v1/audit/public-keys",
        "/v1/grantees/{grantee}/calendar/{feed}",
    ]


def _one_ofs(node: Any) -> list[list[Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _one_ofs(item)]
    if not isinstance(node, dict):
        return []
    here = [node["oneOf"]] if isinstance(node.get("oneOf"), list) else []
    return here + [found for value in node.values() for found in _one_ofs(value)]


def test_no_value_matches_two_branches_of_a_one_of(client):
    """`oneOf` accepts a value that matches exactly one branch: branches of one plain type, or
    `integer` beside `number` (every integer is a number), refuse every value of that type
    (found by an integrator: each integer figure failed `FigureOut.value`)."""
    spec = spec_of(client)
    overlapping = []
    for branches in _one_ofs(spec):
        kinds = [b.get("type") for b in branches if isinstance(b, dict) and len(b) == 1]
        if len(kinds) != len(set(kinds)) or {"integer", "number"} <= set(kinds):
            overlapping.append(branches)
    assert overlapping == []
    value = spec["components"]["schemas"]["FigureOut"]["properties"]["value"]
    from jsonschema import Draft202012Validator

    for sample in (26, 0.875, None):
        assert not list(Draft202012Validator(value).iter_errors(sample)), sample
