"""Signing in and out of the console (DESIGN D11, decision 70).

Production: OpenID Connect, authorization code with PKCE (services/identity/oidc_client.py);
the provider's access token is kept in the sealed session and presented to the API.
Development: a form that picks a role, a grantee and a subject, and signs a development token
for them, as `prowd token` would (there is no such form in production).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from domain.common import NotFound
from services.api.console.session import PATH, carried_back, session_of, sign_in
from services.app.tenancy import Tenancy
from services.identity import oidc_client
from services.identity.access import Role
from services.identity.tokens import NotAuthenticated, issue_token
from services.refusals import shown
from services.settings import Settings

# The roles a person signs in to the console with (the platform admin has the API).
ROLES = [r.value for r in Role if r is not Role.PLATFORM_ADMIN]


def _production(request: Request[Any, Any, Any]) -> bool:
    settings: Settings = request.app.state.settings
    return settings.environment == "production"


def _picker(tenancy: Tenancy, settings: Settings, values: dict[str, str]) -> dict[str, Any]:
    """The development picker's choices, with what was picked (or the configured grantee,
    else the first) selected again."""
    grantees = [g.slug for g in tenancy.grantees(limit=200)]
    preferred = values.get("grantee") or settings.console_grantee
    if preferred and preferred not in grantees and tenancy.grantee(preferred) is not None:
        grantees = sorted([*grantees, preferred])  # registered, beyond the list's first 200
    return {
        "roles": ROLES,
        "grantees": grantees,
        "errs": {},
        "v": {
            **values,
            "role": values.get("role") or Role.CASE_MANAGER.value,
            "grantee": preferred if preferred in grantees else next(iter(grantees), ""),
        },
    }


@get(f"{PATH}/sign-in", sync_to_thread=True)
def sign_in_page(
    request: Request[Any, Any, Any], expired: str | None = None, signed_out: str | None = None
) -> Template:
    """The sign-in page: the provider's button in production, the demo picker otherwise."""
    settings: Settings = request.app.state.settings
    context: dict[str, Any] = {
        "title": "Sign in",
        "expired": bool(expired),
        "signed_out": bool(signed_out),
        # A form sent after the session ended waits for the same person's sign-in.
        "carried": session_of(request).get("carried") is not None,
        "lost": session_of(request).get("lost"),
    }
    if settings.environment == "production":
        context["oidc"] = bool(settings.oidc_client_id)
    else:
        context.update(_picker(request.app.state.tenancy, settings, {}))
    return Template("sign_in.html", context=context)


def _refusals(tenancy: Tenancy, role: str, grantee: str, rrc: str | None) -> dict[str, str]:
    """Why this sign-in would lead only to "not found" pages, by field: a grantee that is not
    registered, or RRC staff without an RRC or with a code that is not one of the grantee's
    RRCs. Empty: none."""
    if role == Role.FEDERAL_OVERSIGHT.value:
        return {}  # oversight reads every grantee's aggregates, not one grantee's
    if tenancy.grantee(grantee) is None:
        return {"grantee": f"There is no grantee {shown(grantee)}: pick one of the list."}
    if role != Role.RRC_STAFF.value:
        return {}
    if not rrc:
        return {"rrc": "RRC staff sign in with their RRC's facility code: fill in RRC."}
    try:
        tenancy.app(grantee).rrc.check_rrc(rrc)
    except NotFound:
        return {
            "rrc": f"{grantee} has no RRC with the code {shown(rrc)}: type the facility code"
            " of the staff member's RRC, as the grantee registered it."
        }
    return {}


@post(f"{PATH}/sign-in")
async def demo_sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """Development only: sign in as the role, grantee and subject picked; RRC staff name one
    of the grantee's RRCs."""
    if _production(request):
        return Template("error.html", context={"title": "Not found", "detail": ""}, status_code=404)
    settings: Settings = request.app.state.settings
    tenancy: Tenancy = request.app.state.tenancy
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("role", "grantee", "subject", "rrc")}
    role, grantee = values["role"], values["grantee"]
    subject = values["subject"] or f"demo-{role}"
    rrc = values["rrc"] or None
    token = ""
    errs = await anyio.to_thread.run_sync(_refusals, tenancy, role, grantee, rrc)
    if not errs:
        try:
            token = issue_token(
                settings,
                subject=subject,
                roles=[role],
                grantees=["*"] if role == Role.FEDERAL_OVERSIGHT.value else [grantee],
                rrc=rrc if role == Role.RRC_STAFF.value else None,
            )
        except ValueError as e:
            errs = {"": str(e)}
    if errs:
        picker = await anyio.to_thread.run_sync(_picker, tenancy, settings, values)
        return Template(
            "sign_in.html",
            context={
                **picker,
                "title": "Sign in",
                "error": " ".join(errs.values()),
                "errs": errs,
            },
            status_code=422,
        )
    sign_in(request, token, grantee)
    return Redirect(carried_back(request) or f"{PATH}/", status_code=303)


def _redirect_uri(request: Request[Any, Any, Any]) -> str:
    settings: Settings = request.app.state.settings
    base = settings.console_url or str(request.base_url).rstrip("/")
    return f"{base}{PATH}/oidc/callback"


@get(f"{PATH}/oidc/start")
async def oidc_start(request: Request[Any, Any, Any]) -> Response[Any]:
    """Send the browser to the identity provider, keeping the flow's secrets in the session."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_client_id or not settings.oidc_issuer:
        return Template(
            "error.html",
            context={
                "title": "Sign-in unavailable",
                "detail": "No identity provider is configured.",
            },
            status_code=503,
        )
    redirect_uri = _redirect_uri(request)
    try:
        started = await anyio.to_thread.run_sync(oidc_client.start, settings, redirect_uri)
    except oidc_client.SignInFailed as e:
        return _failed(str(e))
    # A form carried from an ended session waits through the provider's round trip.
    carried = session_of(request).get("carried")
    request.set_session(
        {
            "oidc": {"state": started.state, "nonce": started.nonce, "verifier": started.verifier},
            **({"carried": carried} if carried is not None else {}),
        }
    )
    return Redirect(started.url, status_code=303)


@get(f"{PATH}/oidc/callback")
async def oidc_callback(
    request: Request[Any, Any, Any],
    code: str = "",
    returned_state: Annotated[str, Parameter(query="state")] = "",
    error: str = "",
) -> Response[Any]:
    """The provider's answer: check the state, exchange the code with the PKCE verifier, verify
    the ID token, and start the session with the access token."""
    settings: Settings = request.app.state.settings
    raw = request.scope.get("session")
    flow = raw.get("oidc") if isinstance(raw, dict) else None
    if error or not code or not isinstance(flow, dict) or flow.get("state") != returned_state:
        request.clear_session()
        return _failed("the sign-in did not complete; start again")
    try:
        token = await anyio.to_thread.run_sync(
            oidc_client.finish,
            settings,
            code,
            str(flow["verifier"]),
            str(flow["nonce"]),
            _redirect_uri(request),
        )
        await anyio.to_thread.run_sync(sign_in, request, token)
    except (oidc_client.SignInFailed, NotAuthenticated) as e:
        request.clear_session()
        return _failed(str(e))
    return Redirect(carried_back(request) or f"{PATH}/", status_code=303)


def _failed(detail: str) -> Response[Any]:
    return Template(
        "error.html",
        context={"title": "Sign-in failed", "detail": f"Sign-in failed: {detail}."},
        status_code=401,
    )


@post(f"{PATH}/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    """End the session (the cookie is emptied and expires)."""
    request.clear_session()
    return Redirect(f"{PATH}/sign-in?signed_out=1", status_code=303)


@get([f"{PATH}/", f"{PATH}/sign-in", f"{PATH}/not-configured"])
async def not_configured() -> Template:
    """Production without PROWD_CONSOLE_SECRET: the console is off."""
    return Template(
        "error.html",
        context={
            "title": "Console not configured",
            "detail": "Set PROWD_CONSOLE_SECRET (and the OIDC client) to use the staff console.",
        },
        status_code=503,
    )


ROUTES = [sign_in_page, demo_sign_in, oidc_start, oidc_callback, sign_out]
