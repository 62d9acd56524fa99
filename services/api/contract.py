"""The last pass over the OpenAPI document: what an integrator's tools need from it.

`openapi.complete` fills in problems and request examples; this pass makes the document valid
OpenAPI 3.1 and complete as a contract (docs/api.md "The contract"):

- example objects carry no `id` (Litestar keeps the key it files them under) and every
  response header has a schema, so `openapi-spec-validator` reports no error;
- every command (POST, PUT) declares the `Idempotency-Key` header it honours;
- every operation documents the statuses it can answer with: 413 where a body is read, 409
  and 422 for commands, 404 where a path names a record, 429 under /v1 (rate limits);
- every 2xx JSON response has an example, synthesised from its schema where the handler gave
  none.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
from litestar.openapi.spec import (
    Contact,
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    Tag,
)
from litestar.openapi.spec.base import BaseSchemaObject

from services.api.openapi import Examples, problem
from services.api.problems import PROBLEM_JSON

IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description=(
        "A key of 1-200 visible ASCII characters, unique per command: a retry with the same "
        "key and body gets the first answer back instead of running twice (docs/api.md)."
    ),
    schema=Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=200,
        pattern="^[\\x21-\\x7e]{1,200}$",
        examples=["3f2c1a9e-enrol-luis-1"],
    ),
)

_COMMANDS = ("post", "put", "patch", "delete")

# Operations that answer without the bearer token the document asks for by default, with their
# own `security`: `[]` none at all (liveness, readiness, the audit keys an auditor fetches for
# themselves, a calendar feed whose link holds its credential); `/metrics` none, or the
# metrics token when the platform sets `PROWD_METRICS_TOKEN`. tests/test_contract.py sends
# every GET without a token and holds each answer to this list.
ANONYMOUS: dict[tuple[str, str], list[dict[str, list[str]]]] = {
    ("/health", "get"): [],
    ("/health", "head"): [],
    ("/ready", "get"): [],
    ("/metrics", "get"): [{}, {"bearer": []}],
    ("/v1/audit/public-key", "get"): [],
    ("/v1/audit/public-keys", "get"): [],
    ("/v1/grantees/{grantee}/calendar/{feed}", "get"): [],
}


def _tidy(node: Any, seen: set[int]) -> None:
    """Recursively: no `id` on example objects, a schema on every header."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Example):
        node.id = None
    if isinstance(node, OpenAPIHeader) and node.schema is None and node.content is None:
        node.schema = Schema(type=OpenAPIType.STRING)
    if isinstance(node, BaseSchemaObject):
        for field in dataclasses.fields(node):
            _tidy(getattr(node, field.name), seen)
    elif isinstance(node, dict):
        for value in node.values():
            _tidy(value, seen)
    elif isinstance(node, list | tuple):
        for value in node:
            _tidy(value, seen)


def _statuses(path: str, method: str, op: Operation) -> dict[str, tuple[int, str, str]]:
    out: dict[str, tuple[int, str, str]] = {}
    if not path.startswith("/v1/"):
        return out
    out["429"] = (429, "rate_limited", "too many requests; retry after the Retry-After seconds")
    if op.request_body is not None:
        out["413"] = (413, "body_too_large", "the request body is larger than the service takes")
    if method in _COMMANDS:
        out["409"] = (
            409,
            "conflict",
            "another request changed the same record first; reload and retry",
        )
        out["422"] = (
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
    if path.count("{") > (1 if "{grantee}" in path else 0):
        out["404"] = (404, "not_found", "no such record in this grantee's log")
    return out


def _success_example(op: Operation, examples: Examples) -> None:
    for status, response in (op.responses or {}).items():
        if not status.startswith("2") or isinstance(response, Reference):
            continue
        for kind, media in (response.content or {}).items():
            if not kind.endswith("json") or media.examples or media.example is not None:
                continue
            if media.schema is None:
                continue
            schema = msgspec.to_builtins(media.schema.to_schema())
            value = examples.of(schema if isinstance(schema, dict) else {})
            if value is not None:
                media.examples = {"example": Example(summary="an example answer", value=value)}


def finish(spec: OpenAPI) -> None:
    """Make the document valid and complete (see the module docstring). Runs once, at start."""
    examples = Examples(spec)
    for path, item in (spec.paths or {}).items():
        # A HEAD answer has the GET's status and headers and no body.
        for response in (item.head.responses or {}).values() if item.head else ():
            if not isinstance(response, Reference):
                response.content = None
        for method in ("get", "post", "put", "patch", "delete"):
            op: Operation | None = getattr(item, method, None)
            if op is None:
                continue
            params = list(op.parameters or [])
            if method in _COMMANDS and path.startswith("/v1/"):
                if not any(
                    isinstance(p, Parameter) and p.name.lower() == "idempotency-key" for p in params
                ):
                    params.append(IDEMPOTENCY_KEY)
                op.parameters = params
            responses = dict(op.responses or {})
            for status, (code_status, code, detail) in _statuses(path, method, op).items():
                present = responses.get(status)
                if present is None:
                    responses[status] = problem(code_status, code, detail)
                elif not isinstance(present, Reference):
                    content = present.content or {}
                    media = content.get(PROBLEM_JSON)
                    if media is not None and isinstance(media.examples, dict):
                        extra = problem(code_status, code, detail).content or {}
                        for key, ex in (extra[PROBLEM_JSON].examples or {}).items():
                            media.examples.setdefault(key, ex)
            op.responses = responses
            _success_example(op, examples)
    for (path, method), security in ANONYMOUS.items():
        op = getattr((spec.paths or {})[path], method)
        op.security = security
        responses = dict(op.responses or {})
        if security:
            responses.setdefault(
                "401", problem(401, "not_authenticated", "this scrape needs the metrics token")
            )
        else:
            for status in ("401", "403"):
                responses.pop(status, None)
        op.responses = responses
    _tidy(spec, set())
    # Generators name classes after a schema's `title`; Litestar titles `meetings_AlertsOut` and
    # `supervision_AlertsOut` both `AlertsOut`. The component's own (unique) name is the title.
    for name, schema in (spec.components.schemas or {}).items() if spec.components else ():
        if isinstance(schema, Schema):
            schema.title = name
    # Every tag an operation carries is declared, and the document names who answers for it.
    used = sorted(
        {
            t
            for item in (spec.paths or {}).values()
            for op in _operations(item)
            for t in op.tags or ()
        }
    )
    declared = {t.name for t in spec.tags or ()}
    spec.tags = [
        *(spec.tags or ()),
        *(Tag(name=t, description=f"{t} operations") for t in used if t not in declared),
    ]
    if spec.info.contact is None:
        spec.info.contact = Contact(name="PROWD Ledger maintainers")


def _operations(item: Any) -> list[Operation]:
    return [op for m in ("get", "post", "put", "patch", "delete") if (op := getattr(item, m, None))]
