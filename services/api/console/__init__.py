"""The staff console: server-rendered pages in the API's own application (DESIGN D11).

Jinja2 templates, htmx vendored as a static file (static/README.md), a sealed cookie session,
Litestar's CSRF protection on every form, and every read and command sent to the JSON API in
process as the signed-in staff member (backend.py, decision 70). Nothing here decides a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp
from litestar.utils.scope.state import ScopeState

from services.api.console import (
    actions,
    assignment,
    caseload,
    casework,
    details,
    document_part2,
    document_upload,
    enrolment,
    escalation_list,
    escalations,
    forms,
    goal_forms,
    groups,
    meeting_forms,
    meeting_held,
    mentor_admin,
    mentor_register,
    outcomes,
    oversight,
    pages,
    pairing,
    records,
    referral_forms,
    reports,
    residents,
    signin,
    stage_form,
)
from services.api.console.backend import Refusal
from services.api.console.erased import ErasedRecord, erased_refused
from services.api.console.format import register_filters, size
from services.api.console.session import (
    PATH,
    SignInRequired,
    carry,
    csrf_config,
    session_config,
)
from services.settings import Settings

HERE = Path(__file__).parent
ExceptionHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=HERE / "templates",
        engine=JinjaTemplateEngine,
        engine_callback=lambda engine: register_filters(engine.engine),
    )


async def _no_hook(request: Request[Any, Any, Any]) -> None:
    """The API's before-request checks (bearer token, JSON bodies) are not the console's: it
    checks its session, and the API checks the token the console presents."""
    return None


async def _as_is(response: Response[Any]) -> Response[Any]:
    return response


def _form_page(request: Request[Any, Any, Any]) -> str:
    """The page that shows again the form this POST came from: the same address when it has a
    GET (every console form but an escalation's buttons), else the caseload."""
    template = request.scope.get("path_template")
    for route in request.app.routes:
        if route.path_format == template and "GET" in getattr(route, "methods", ()):
            return request.url.path
    return f"{PATH}/"


def _carry_form(request: Request[Any, Any, Any], exc: SignInRequired) -> None:
    """A form sent after its session ended (decision 144): its fields are kept in the sealed
    session for the same staff member's next sign-in. The CSRF check has read the form already
    (a form without the header), so it is at hand here without awaiting."""
    form = ScopeState.from_scope(request.scope).form
    if not isinstance(form, dict):
        return
    fields: list[tuple[str, Any]] = []
    for name, value in form.items():
        for one in value if isinstance(value, list) else [value]:
            fields.append((name, one))
    query = f"?{request.url.query}" if request.url.query else ""
    carry(request, exc.owner, fields, f"{request.url.path}{query}", _form_page(request) + query)


def _sign_in_again(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # "Your session ended" only to a browser that had one, not on a first visit.
    ended = isinstance(exc, SignInRequired) and exc.ended
    if (
        isinstance(exc, SignInRequired)
        and exc.ended
        and request.method == "POST"
        and request.url.path != f"{PATH}/sign-out"
    ):
        _carry_form(request, exc)
    to = f"{PATH}/sign-in{'?expired=1' if ended else ''}"
    if request.headers.get("hx-request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": to})
    return Redirect(to, status_code=303)


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status if isinstance(exc, Refusal) else 404
    detail = (
        exc.detail
        if isinstance(exc, Refusal) and status != 404
        else "There is no such page, or it is not one your role may open."
    )
    return Template(
        "error.html",
        context={"title": "Not found" if status == 404 else "Refused", "detail": detail},
        status_code=status,
    )


def console_not_found_first(handler: ExceptionHandler) -> ExceptionHandler:
    """The application's exception handler, but an address under /console that no console
    route takes (an unknown page, or an id that is not a UUID, which the router refuses before
    any route) answers the console's own "Not found" page rather than the API's problem JSON."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        path = request.url.path
        if isinstance(exc, NotFoundException) and (path == PATH or path.startswith(f"{PATH}/")):
            return _refused(request, exc)
        return handler(request, exc)

    return handle


def _csrf_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Template(
        "error.html",
        context={
            "title": "Form refused",
            "detail": "This form did not come from this console, or it has expired. "
            "Go back, reload the page and send it again.",
        },
        status_code=403,
    )


def _too_large(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A form over the service's body limit (a long text pasted): a page in words, not the
    API's problem document; the browser's Back keeps what was typed. A document's upload takes
    the larger document limit: over it, the page says so of the file."""
    settings = request.app.state.settings
    handler = request.scope.get("route_handler")
    if handler is not None and handler.opt.get("upload"):
        return Template(
            "error.html",
            context={
                "title": "File too large",
                "detail": "This file is too large to upload (more than"
                f" {size(settings.document_max_bytes)}). Go back and choose a smaller file: a"
                " scan at a lower resolution, or only the pages needed.",
            },
            status_code=413,
        )
    limit = settings.max_body_bytes // 1024
    return Template(
        "error.html",
        context={
            "title": "Form too large",
            "detail": f"This form is too large to record (more than {limit} KB in all). "
            "Go back, shorten the longest text and send it again.",
        },
        status_code=413,
    )


def console_router(settings: Settings) -> Router:
    """The console's routes under /console, with their session and CSRF middleware; without a
    session key (production lacking PROWD_CONSOLE_SECRET) only a page saying so."""
    sessions, csrf = session_config(settings), csrf_config(settings)
    static = create_static_files_router(
        path=f"{PATH}/static",
        directories=[HERE / "static"],
        include_in_schema=False,
        name="console-static",
    )
    if sessions is None or csrf is None:
        return Router(
            path="/",
            route_handlers=[signin.not_configured, static],
            include_in_schema=False,
            before_request=_no_hook,
            after_request=_as_is,
        )
    backend = ClientSideSessionBackend(config=sessions)

    def session_middleware(app: ASGIApp) -> ASGIApp:
        # Litestar's session middleware with the cookie backend, built here rather than by
        # `sessions.middleware`: routers are deep-copied when registered, and the backend's
        # cipher cannot be.
        return SessionMiddleware(app=app, backend=backend)

    return Router(
        path="/",
        route_handlers=[
            *signin.ROUTES,
            *pages.ROUTES,
            *residents.ROUTES,
            *escalation_list.ROUTES,
            *caseload.ROUTES,
            *forms.ROUTES,
            *meeting_forms.ROUTES,
            *meeting_held.ROUTES,
            *actions.ROUTES,
            *stage_form.ROUTES,
            *referral_forms.ROUTES,
            *casework.ROUTES,
            *goal_forms.ROUTES,
            *details.ROUTES,
            *enrolment.ROUTES,
            *outcomes.ROUTES,
            *pairing.ROUTES,
            *groups.ROUTES,
            *assignment.ROUTES,
            *escalations.ROUTES,
            *records.ROUTES,
            *document_upload.routes(settings),
            *document_part2.ROUTES,
            *mentor_register.ROUTES,
            *mentor_admin.ROUTES,
            *reports.ROUTES,
            *oversight.ROUTES,
            static,
        ],
        middleware=[session_middleware, DefineMiddleware(CSRFMiddleware, config=csrf)],
        include_in_schema=False,
        before_request=_no_hook,
        after_request=_as_is,
        exception_handlers={
            SignInRequired: _sign_in_again,
            Refusal: _refused,
            ErasedRecord: erased_refused,
            NotFoundException: _refused,
            PermissionDeniedException: _csrf_refused,
            HTTP_413_REQUEST_ENTITY_TOO_LARGE: _too_large,
        },
    )
