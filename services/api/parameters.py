"""Unknown query parameters, parameters holding control characters and a one-value parameter
given twice are refused (docs/errors.md "Parameters").

A query parameter the handler does not declare is a 400 `unknown_parameter` listing the allowed
ones. A query or path parameter holding a control character (NUL, which PostgreSQL text cannot
hold, or any other of Unicode category Cc) is a 400 `invalid_parameter` naming it: no parameter
is free text, so one rule, the `Line` rule of body text (services/api/text.py), holds for all.

The allowed set is read from each handler's own signature and its dependencies' (Litestar's
kwargs model), so a parameter a handler declares is allowed the moment it is declared.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any, cast

from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler

from services.api.problems import Problem, problem_response
from services.refusals import SHOWN, shown

# Read by the read-your-writes wait before any handler (services/api/consistency.py).
ALWAYS_ALLOWED = frozenset({"min_position"})


@cache
def allowed_query(handler: HTTPRouteHandler, path_parameters: frozenset[str]) -> frozenset[str]:
    """The query parameters `handler` declares, its dependencies' included (by wire name)."""
    model = handler.create_kwargs_model(path_parameters=cast(Any, dict.fromkeys(path_parameters)))
    return frozenset(p.field_alias for p in model.expected_query_params) | ALWAYS_ALLOWED


@cache
def single_query(handler: HTTPRouteHandler, path_parameters: frozenset[str]) -> frozenset[str]:
    """The query parameters `handler` takes one value of (not a list), by wire name."""
    model = handler.create_kwargs_model(path_parameters=cast(Any, dict.fromkeys(path_parameters)))
    return (
        frozenset(p.field_alias for p in model.expected_query_params if not p.is_sequence)
        | ALWAYS_ALLOWED
    )


_CONTROL = re.compile(r"[\x00-\x1F\x7F-\x9F]")


def control_characters(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    """400 `invalid_parameter` naming each query or path parameter of the API that holds a
    control character."""
    if not request.url.path.startswith("/v1/"):
        return None  # the console answers in its pages, asking the API with the same values
    found = [
        (source, key, value)
        for source, items in (
            ("query", request.query_params.multi_items()),
            ("path", ((k, str(v)) for k, v in request.path_params.items())),
        )
        for key, value in items
        if _CONTROL.search(value) or _CONTROL.search(key)
    ]
    if not found:
        return None
    return problem_response(
        400,
        "invalid_parameter",
        "; ".join(
            f"{source} parameter {shown(key)} = {shown(value)} holds a control character;"
            " parameters take none (U+0000-U+001F, U+007F-U+009F)"
            for source, key, value in found
        ),
        errors=[
            {"message": "holds a control character", "key": key[:SHOWN], "source": source}
            for source, key, _ in found
        ],
    )


def unknown_parameters(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler) or not request.query_params:
        return None
    allowed = allowed_query(handler, frozenset(request.path_params))
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        listed = ", ".join(sorted(allowed)) or "none"
        return problem_response(
            400,
            "unknown_parameter",
            f"unknown query parameter {', '.join(shown(u) for u in unknown)}; "
            f"this operation takes: {listed}",
            errors=[
                {"message": "unknown query parameter", "key": u[:SHOWN], "source": "query"}
                for u in unknown
            ],
        )
    # A parameter of one value given twice: which was meant cannot be known (a filter that
    # silently took the last of `stage=1&stage=3` answered for stage 3 alone).
    if not request.url.path.startswith("/v1/"):
        return None  # the console's own forms send what its pages declare
    single = single_query(handler, frozenset(request.path_params))
    counts = Counter(key for key, _ in request.query_params.multi_items())
    repeated = sorted(key for key, n in counts.items() if n > 1 and key in single)
    if not repeated:
        return None
    return problem_response(
        400,
        "repeated_parameter",
        "; ".join(
            f"query parameter {shown(key)} is given {counts[key]} times"
            f" ({', '.join(shown(v) for v in request.query_params.getall(key))}); it takes one value"
            for key in repeated
        ),
        errors=[
            {"message": "given more than once", "key": key[:SHOWN], "source": "query"}
            for key in repeated
        ],
    )
