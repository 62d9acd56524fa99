"""Fuzzing the API from its own OpenAPI document (schemathesis, in-process over ASGI).

Every operation gets generated requests (valid and invalid) with a token that may call it, for a
real grantee; checks: no 5xx, and every response conforms to the documented schema of its
status and content type. Bounded: `FUZZ_EXAMPLES` examples per operation (default 8, over 150
operations: more than 1 000 cases); the count is printed at the end of the session.

It also counts the operations that "mostly rejected generated data": every generated (valid by
the schema) request answered with a 4xx, and at least a tenth of those answers a refusal of the
data (400, 422...) rather than 401/403/404/409/429. That is schemathesis' own criterion for its
"schema validation mismatch" warning (`StatusCodeStatistic.should_warn_about_validation_mismatch`):
such an operation enforces rules its schema does not declare, so fuzzers barely reach its logic.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.cli.commands.run.warnings import StatusCodeStatistic
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from services.identity.access import MATRIX, Role
from services.projector import live as projector

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CASES: Counter[str] = Counter()
# Operation label -> status -> count, of the generated requests.
STATUSES: dict[str, Counter[int]] = {}


def mostly_rejecting() -> list[str]:
    """The operations schemathesis would report as "mostly rejected generated data"."""
    return sorted(
        label
        for label, counts in STATUSES.items()
        if StatusCodeStatistic(
            counts=dict(counts), total=sum(counts.values())
        ).should_warn_about_validation_mismatch()
    )


@pytest.fixture(scope="module")
def fuzz_world(client, make_grantee) -> dict[str, Any]:
    return {"slug": make_grantee()}


def token_for(auth, action: str | None, slug: str) -> dict[str, str]:
    """A token of a role the matrix allows for `action` (none for public routes)."""
    if action is None:
        return {}
    rule = MATRIX[action]
    others = sorted(rule.roles - {Role.RRC_STAFF})
    role = others[0] if others else Role.RRC_STAFF
    grantee = "*" if rule.scope == "platform" or role == Role.PLATFORM_ADMIN else slug
    if role == Role.RRC_STAFF:  # an RRC's staff token names the grantee's RRC
        return auth(role, grantee, sub="fuzz", rrc="RRC-1")
    return auth(role, grantee, sub="fuzz")


def test_the_api_holds_up_to_generated_requests(app, client, auth, db, fuzz_world):
    """Every operation, `EXAMPLES` generated requests each (schemathesis strategies driven by
    hypothesis directly: its pytest plugin does not run under this pytest)."""
    api = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    slug = fuzz_world["slug"]
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if case.path_parameters and "grantee" in case.path_parameters:
                case.path_parameters["grantee"] = slug
            # No projection worker runs here: the views follow the log before each request, so
            # a `min_position` within the log is reached (not a 503 `view_behind`).
            projector.drain(db, f"g_{slug}")
            # Commands declare `Idempotency-Key`; derandomized generation repeats the same key
            # for different bodies, which is refused (422 `idempotency_key_reused`) before the
            # command's own rules are reached: each generated request gets a key of its own.
            if case.headers and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = uuid.uuid4().hex
            label = f"{case.method} {case.path}"
            CASES[label] += 1
            # The platform-wide quarterly report reads every grantee of the test database
            # (hundreds late in a parallel run): it has taken over the client's default 10 s.
            response = case.call(
                headers=token_for(auth, action_of(app, case.method, case.path), slug),
                timeout=120,
            )
            STATUSES.setdefault(label, Counter())[response.status_code] += 1
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # reported with all the others
            failures.append(f"{operation.label}: {str(e)[:600]}")
    total = sum(CASES.values())
    print(f"\nfuzz: {total} generated requests over {len(CASES)} operations")
    rejecting = mostly_rejecting()
    print(f"fuzz: {len(rejecting)} operations mostly rejected generated data:")
    for label in rejecting:
        print(f"  {label} {dict(STATUSES[label])}")
    assert total >= 1000 or EXAMPLES < 8, total
    # 70-73 of 142 before issue 24 (unknown fields, instants, quarters, cursors undeclared);
    # about 20 since, most of the rest refusing `1.0` for an integer (decision 31).
    assert len(rejecting) <= 30 or EXAMPLES != 8, rejecting
    assert not failures, "\n\n".join(failures)


_ACTIONS: dict[tuple[str, str], str | None] = {}


def action_of(app, method: str, path: str) -> str | None:
    if not _ACTIONS:
        for route in app.routes:
            for handler in getattr(route, "route_handlers", []):
                for m in getattr(handler, "http_methods", ()):
                    _ACTIONS[(m.upper(), route.path_format)] = handler.opt.get("action")
    return _ACTIONS.get((method.upper(), path))
