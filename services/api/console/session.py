"""Who is signed in to the console: a sealed cookie session (Litestar's cookie backend,
AES-GCM), an idle timeout on the service's clock, and the token the console presents to the
API on the staff member's behalf (decision 70)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig

from domain import clock
from services.identity.tokens import NotAuthenticated, Principal, verify_token
from services.settings import Settings

PATH = "/console"
COOKIE = "prowd_console"
CSRF_COOKIE = "prowd_csrf"


class SignInRequired(Exception):
    """No session, or one that has been idle too long or whose token has expired; `ended`
    when the browser did hold a session (so the sign-in page says it ended), not on a first
    visit or after signing out."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("sign in")
        self.ended = ended


def _held_a_session(request: Request[Any, Any, Any]) -> bool:
    """The browser sent a session cookie (`prowd_console`, or its parts `prowd_console-N`) with
    a value: one the cookie backend could no longer open has ended. Sign-out leaves `null`."""
    return any(
        (name == COOKIE or name.startswith(f"{COOKIE}-")) and value not in ("", "null")
        for name, value in request.cookies.items()
    )


def _key(settings: Settings, purpose: str) -> bytes | None:
    """A 32-byte key for `purpose`, derived from PROWD_CONSOLE_SECRET (or, in development, the
    local JWT secret); None when production has no console secret."""
    base = settings.console_secret or (
        settings.jwt_secret if settings.environment != "production" else ""
    )
    if not base:
        return None
    return hashlib.sha256(f"prowd-console:{purpose}\0{base}".encode()).digest()


def secure_cookies(settings: Settings) -> bool:
    return settings.environment == "production" or settings.console_url.startswith("https://")


def session_config(settings: Settings) -> CookieBackendConfig | None:
    key = _key(settings, "session")
    if key is None:
        return None
    return CookieBackendConfig(
        secret=key,
        key=COOKIE,
        path=PATH,
        # The browser forgets it when idle as long as the server would refuse it.
        max_age=int(settings.console_idle_minutes * 60),
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )


def csrf_config(settings: Settings) -> CSRFConfig | None:
    key = _key(settings, "csrf")
    if key is None:
        return None
    return CSRFConfig(
        secret=key.hex(),
        cookie_name=CSRF_COOKIE,
        cookie_path=PATH,
        cookie_secure=secure_cookies(settings),
        cookie_httponly=True,
        cookie_samesite="lax",
    )


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member: the token's principal, the grantee the console works in and
    the token itself (presented to the API)."""

    principal: Principal
    grantee: str
    token: str

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    def has(self, *roles: str) -> bool:
        return bool(self.principal.roles & set(roles))


def sign_in(request: Request[Any, Any, Any], token: str, grantee: str = "") -> Staff:
    """Start a session for `token` (verified as the API verifies it), working in `grantee`
    (by default the first grantee the token names)."""
    settings: Settings = request.app.state.settings
    principal = verify_token(settings, token)
    named = sorted(g for g in principal.grantees if g != "*")
    grantee = grantee or (named[0] if named else "")
    request.clear_session()
    request.set_session({"token": token, "grantee": grantee, "seen": clock.now().timestamp()})
    return Staff(principal, grantee, token)


def session_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A copy of the session's data (empty without a session); `request.set_session` keeps it."""
    raw = request.scope.get("session")
    return dict(raw) if isinstance(raw, dict) else {}


def tell(request: Request[Any, Any, Any], position: int, notice: str) -> None:
    """After a command: its log position (the next page's lists wait for it) and the notice
    the next page shows once."""
    session = session_of(request)
    session["position"] = position
    session["notice"] = notice
    request.set_session(session)


def signed_in(request: Request[Any, Any, Any]) -> Staff:
    """The session's staff member, its idle clock restarted; SignInRequired otherwise."""
    settings: Settings = request.app.state.settings
    session = session_of(request)
    token, seen = session.get("token"), session.get("seen")
    if not isinstance(token, str) or not isinstance(seen, int | float):
        raise SignInRequired(ended=_held_a_session(request))
    now = clock.now().timestamp()
    if now - seen > settings.console_idle_minutes * 60:
        request.clear_session()
        raise SignInRequired(ended=True)
    try:
        principal = verify_token(settings, token)
    except NotAuthenticated:
        request.clear_session()
        raise SignInRequired(ended=True) from None
    session["seen"] = now
    request.set_session(session)
    return Staff(principal, str(session.get("grantee", "")), token)
