"""Unknown query parameters are refused (docs/errors.md "Parameters").

A query parameter the handler does not declare is a 400 `unknown_parameter` listing the allowed
ones. The allowed set is read from each handler's own signature and its dependencies' (Litestar's
kwargs model), so a parameter a handler declares is allowed the moment it is declared.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler

from services.api.problems import Problem, problem_response

# Read by the read-your-writes wait before any handler (services/api/consistency.py).
ALWAYS_ALLOWED = frozenset({"min_position"})


@cache
def allowed_query(handler: HTTPRouteHandler, path_parameters: frozenset[str]) -> frozenset[str]:
    """The query parameters `handler` declares, its dependencies' included (by wire name)."""
    model = handler.create_kwargs_model(path_parameters=cast(Any, dict.fromkeys(path_parameters)))
    return frozenset(p.field_alias for p in model.expected_query_params) | ALWAYS_ALLOWED


def unknown_parameters(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler) or not request.query_params:
        return None
    allowed = allowed_query(handler, frozenset(request.path_params))
    unknown = sorted(set(request.query_params) - allowed)
    if not unknown:
        return None
    listed = ", ".join(sorted(allowed)) or "none"
    return problem_response(
        400,
        "unknown_parameter",
        f"unknown query parameter {', '.join(repr(u) for u in unknown)}; "
        f"this operation takes: {listed}",
        errors=[
            {"message": "unknown query parameter", "key": u, "source": "query"} for u in unknown
        ],
    )
