"""Request bodies are decoded strictly: `"2"` is not the number 2, `"true"` is not `true`.

Litestar converts a body into the handler's msgspec Struct with `strict=False`, which coerces
strings to numbers and booleans. Clients of a case-management system must not get that
leniency: a mistyped field is a 400 `invalid_request`, as any other wrong type. This hook decodes
the body into the same Struct with `strict=True` before the handler runs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from services.api.problems import Problem, problem_response


async def strict_body(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    field = request.route_handler.parsed_data_field
    if request.method != "POST" or field is None:
        return None
    target = field.annotation
    if not (isinstance(target, type) and issubclass(target, msgspec.Struct)):
        return None
    body = await request.body()
    try:
        msgspec.json.decode(body or b"null", type=target, strict=True)
    except msgspec.ValidationError as e:
        return problem_response(
            400,
            "invalid_request",
            "the request body fails validation",
            errors=[{"message": str(e), "key": "data", "source": "body"}],
        )
    except msgspec.DecodeError:
        return None  # malformed JSON: Litestar's own decoding answers with the details
    return None
