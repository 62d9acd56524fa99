"""OpenAPI helpers: problem responses with examples, request-body examples."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body

from services.api.problems import PROBLEM_JSON, TITLES, Problem, problem_type

COMMON = [
    (401, "not_authenticated", "a bearer token is required"),
    (403, "forbidden", "your role does not permit this action"),
    (404, "grantee_not_found", "no grantee 'northside_works'"),
]


Refusal = tuple[int, str, str] | tuple[int, str, str, list[dict[str, Any]]]


def problems(*extra: Refusal) -> dict[int, ResponseSpec]:
    """Problem responses for a route: the common 401/403/404 plus `extra` (status, code,
    detail, and the `existing` records a 409 names, if it does)."""
    by_status: dict[int, list[Example]] = {}
    for status, code, detail, *existing in [*COMMON, *extra]:
        value = msgspec.to_builtins(
            Problem(
                type=problem_type(code),
                title=TITLES.get(status, "Error"),
                status=status,
                detail=detail,
                code=code,
                existing=existing[0] if existing else None,
            )
        )
        by_status.setdefault(status, []).append(Example(id=code, summary=detail, value=value))
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=TITLES.get(status, "Error"),
            media_type=PROBLEM_JSON,
            generate_examples=False,
            examples=examples,
        )
        for status, examples in by_status.items()
    }


def body(summary: str, value: dict[str, Any]) -> Any:
    """A request body with one documented example."""
    return Body(examples=[Example(summary=summary, value=value)])
