"""Errors as RFC 9457 `application/problem+json`, each with a stable `type` (DESIGN D4).

Every error the service can answer with goes through `problem_response`; bodies never carry
stack traces, SQL or personal data. The types are listed in docs/errors.md.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.common import (
    AlreadyExists,
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    RuleViolation,
)
from projections.query import InvalidCursor, InvalidSort
from services.api.param_words import malformed_path, parameter_detail, source_name
from services.identity.oidc import KeysUnavailable
from services.identity.tokens import NotAuthenticated
from services.refusals import Refused, clipped, shown
from services.store.health import KEY_MISSING, KEY_SETTINGS, UNAVAILABLE, UNSTORABLE
from services.store.ledger import DuplicateRequest

PROBLEM_JSON = "application/problem+json"
_FOR_PATH = re.compile(r" for path \S.*$", re.DOTALL)
log = structlog.get_logger("prowd.api")


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str = ""
    code: str = ""
    errors: list[dict[str, Any]] | None = None
    # The records a 409 `possible_duplicate` or `duplicate_meeting` found (ids, numbers and
    # states only).
    existing: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """Raised by handlers and dependencies to answer with a problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        existing: list[dict[str, Any]] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.existing = existing
        self.errors = errors


TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Rule violated",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem_type(code: str) -> str:
    return f"urn:prowd:problem:{code}"


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    existing: list[dict[str, Any]] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=problem_type(code),
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        errors=errors,
        existing=existing,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (AlreadyExists, 409),
    (Gone, 410),
    (Conflict, 409),
    (RuleViolation, 422),
    (DomainError, 422),
]


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    return [
        {
            "message": clipped(str(e.get("message", ""))),
            "key": str(e.get("key", "")),
            "source": source_name(e.get("source", "")),
        }
        for e in extra
        if isinstance(e, dict)
    ]


def _field_errors(exc: DomainError) -> list[dict[str, Any]] | None:
    """The body field a domain rule names (`field=` in its context), as a validation entry."""
    name = exc.context.get("field")
    if not isinstance(name, str):
        return None
    return [{"message": exc.detail, "key": name, "source": "body", "field": name}]


def _opt(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The route's options (none before routing)."""
    handler = request.scope.get("route_handler")
    return dict(handler.opt) if handler is not None else {}


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    if isinstance(exc, ProblemError):
        return problem_response(
            exc.status,
            exc.code,
            exc.detail,
            headers=exc.headers,
            existing=exc.existing,
            errors=exc.errors,
        )
    if isinstance(exc, Refused):
        return problem_response(exc.status, exc.code, exc.detail, headers=exc.headers)
    if isinstance(exc, DomainError):
        status = next(s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls))
        existing = exc.existing if isinstance(exc, AlreadyExists) else None
        return problem_response(
            status, exc.code, exc.detail, existing=existing, errors=_field_errors(exc)
        )
    if isinstance(exc, InvalidCursor):
        return problem_response(400, "invalid_cursor", str(exc))
    if isinstance(exc, InvalidSort):
        return problem_response(400, "invalid_sort", str(exc))
    if isinstance(exc, NotAuthenticated):
        return problem_response(
            401, "not_authenticated", str(exc), headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, ValidationException):
        raw = exc.extra if isinstance(exc.extra, list) else []
        errors = _validation_errors(exc)
        named = parameter_detail(request, [e for e in raw if isinstance(e, dict)])
        # Litestar's own sentence may end with the whole address: " for path /v1/...?...".
        said = _FOR_PATH.sub("", str(exc.detail))
        detail = named or ("the request body fails validation" if errors else said)
        code = "invalid_cursor" if named and {e["key"] for e in errors} == {"cursor"} else None
        return problem_response(400, code or "invalid_request", detail, errors=errors or None)
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            named_path = malformed_path(request)
            if named_path is not None:
                name, value = named_path
                return problem_response(
                    404,
                    "not_found",
                    f"path parameter {name!r} is not a UUID: {shown(value)}; no such record",
                    errors=[{"message": "not a UUID", "key": name, "source": "path"}],
                )
        if exc.status_code in (404, 405) and not request.scope.get("state", {}).get("request_id"):
            # The router refused before any route (and so the request-log middleware) ran.
            log.info("request", method=request.method, route="unmatched", status=exc.status_code)
        code = {
            400: "invalid_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
            401: "not_authenticated",
            403: "forbidden",
            429: "rate_limited",
        }.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if exc.status_code == 413 and "too_large" in _opt(request):
            code = _opt(request)["too_large"]
            limit = getattr(request.route_handler, "request_max_body_size", None)
            if isinstance(limit, int):
                detail = f"the body is larger than this operation takes: at most {limit} bytes"
        return problem_response(exc.status_code, code, detail, headers=exc.headers)
    if isinstance(exc, KeysUnavailable):
        log.warning("identity_provider_unavailable")
        return problem_response(
            503,
            "identity_unavailable",
            "the identity provider's signing keys cannot be fetched; retry shortly",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, UNSTORABLE):
        # A value the database cannot take (a NUL byte in text, a number out of range) that
        # validation let through: the request is at fault, not the service.
        return problem_response(
            400, "invalid_request", "a value in the request cannot be stored or compared"
        )
    if isinstance(exc, UNAVAILABLE):
        log.warning("database_unavailable", error_class=type(exc).__name__)
        return problem_response(
            503,
            "database_unavailable",
            "the database is unavailable; retry shortly",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, KEY_MISSING):
        # Misconfiguration, not erasure: the master key that wrapped a participant's key is not
        # configured. The reason names key ids and a participant id, never personal data.
        log.error("key_unavailable", reason=str(exc))
        return problem_response(
            503,
            "key_unavailable",
            f"a participant's data key does not unwrap with the configured master keys; {KEY_SETTINGS}",
        )
    if isinstance(exc, DuplicateRequest):
        return problem_response(409, "request_in_flight", "a request with this key is in flight")
    log.error("unhandled_exception", error_class=type(exc).__name__, exc_info=exc)
    return problem_response(500, "internal_error", "an unexpected error occurred")
