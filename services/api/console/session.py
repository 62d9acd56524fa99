"""Who is signed in to the console: a sealed cookie session (Litestar's cookie backend,
AES-GCM), an idle timeout on the service's clock, and the token the console presents to the
API on the staff member's behalf (decision 70)."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
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
# The session's absolute limit: the cookie lives this long after the last page, and the server
# refuses a session started longer ago. Idleness is the server's check on the sealed `seen`,
# so that a session that ended is told from no session at all (decision 144).
SESSION_HOURS = 12
# A form sent after its session ended is carried to the next sign-in of the same staff member
# for this long, when its fields come to at most CARRY_BYTES (decision 144).
CARRY_MINUTES = 30
CARRY_BYTES = 16 * 1024
# What the carried fields may take in the session cookie once compressed (the cookie is split
# in parts of 4 KB; the server takes request headers of up to 16 KB in all).
CARRY_SEALED_BYTES = 8 * 1024


class SignInRequired(Exception):
    """No session, or one that has been idle too long or whose token has expired; `ended`
    when the browser did hold a session (so the sign-in page says it ended), not on a first
    visit or after signing out."""

    def __init__(self, ended: bool = False, owner: str = "") -> None:
        super().__init__("sign in")
        self.ended = ended
        self.owner = owner


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
        # The browser keeps it to the absolute limit; idleness is the server's check, so that
        # an idle session's next request is known to have ended (decision 144).
        max_age=SESSION_HOURS * 3600,
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
    owner = _owner(principal.subject, grantee)
    carried = _carried_for(session_of(request), owner)
    request.clear_session()
    now = clock.now().timestamp()
    session: dict[str, Any] = {
        "token": token,
        "grantee": grantee,
        "subject": principal.subject,
        "since": now,
        "seen": now,
    }
    if carried:
        session["carried"] = carried
    request.set_session(session)
    return Staff(principal, grantee, token)


def _owner(subject: str, grantee: str) -> str:
    return f"{subject}\n{grantee}"


def _carried_for(session: dict[str, Any], owner: str) -> dict[str, Any] | None:
    """The form the ended session carried, if `owner` sent it and it is recent; else None (a
    different person signing in on the same browser never sees it)."""
    carried = session.get("carried")
    if not isinstance(carried, dict) or carried.get("owner") != owner:
        return None
    at = carried.get("at")
    if not isinstance(at, int | float) or clock.now().timestamp() - at > CARRY_MINUTES * 60:
        return None
    return carried


def carry(
    request: Request[Any, Any, Any],
    owner: str,
    fields: list[tuple[str, Any]],
    action: str,
    back: str,
) -> str:
    """Keep a form sent after its session ended, in the (sealed) session, for `owner`'s next
    sign-in: its fields but the CSRF token, files dropped; `back` is the page that shows the
    form again. Returns what the sign-in page says of it."""
    dropped = [str(name) for name, value in fields if not isinstance(value, str)]
    kept = [[str(name), value] for name, value in fields if isinstance(value, str)]
    kept = [pair for pair in kept if pair[0] != "_csrf_token"]
    raw = json.dumps(kept, ensure_ascii=False).encode()
    packed = base64.b64encode(zlib.compress(raw, 9)).decode("ascii")
    if not owner or len(raw) > CARRY_BYTES or len(packed) > CARRY_SEALED_BYTES:
        # Not kept (too long, or whose it was is unknown): the sign-in page says it was lost.
        lost = "too_long" if owner else "unknown"
        request.set_session({"ended": clock.now().timestamp(), "lost": lost})
        return lost
    request.set_session(
        {
            "ended": clock.now().timestamp(),
            "carried": {
                "owner": owner,
                "at": clock.now().timestamp(),
                "action": action,
                "back": back,
                "fields": packed,
                "dropped": bool(dropped),
            },
        }
    )
    return "kept_files_dropped" if dropped else "kept"


def carried_back(request: Request[Any, Any, Any]) -> str | None:
    """After signing in: the page of the form the ended session carried, if any."""
    carried = session_of(request).get("carried")
    return str(carried["back"]) if isinstance(carried, dict) else None


@dataclass(frozen=True)
class Carried:
    """A form sent after its session ended, given back (once) to the page that shows it again:
    its fields as sent (no CSRF token) and whether files were dropped from it."""

    fields: list[tuple[str, str]]
    files_dropped: bool

    def notice(self) -> str:
        said = (
            "Your session ended before this form was recorded: it was NOT recorded. What you"
            " had typed is filled in again below; check it and send it again."
        )
        if self.files_dropped:
            said += " A file you had chosen could not be kept: choose it again."
        return said


def take_carried(request: Request[Any, Any, Any], action: str) -> Carried | None:
    """The carried form sent to `action` (its path and query), taken from the session; None
    when there is none (or one for another form, or one too old)."""
    session = session_of(request)
    carried = session.get("carried")
    if not isinstance(carried, dict) or carried.get("action") != action:
        return None
    session.pop("carried")
    request.set_session(session)
    at = carried.get("at")
    if not isinstance(at, int | float) or clock.now().timestamp() - at > CARRY_MINUTES * 60:
        return None
    try:
        pairs = json.loads(zlib.decompress(base64.b64decode(str(carried["fields"]))))
    except (ValueError, zlib.error, KeyError):
        return None
    fields = [(str(name), str(value)) for name, value in pairs]
    return Carried(fields, bool(carried.get("dropped")))


def take_left_over(request: Request[Any, Any, Any]) -> Carried | None:
    """The carried form whose page is this one but which the page did not fill in again."""
    carried = session_of(request).get("carried")
    if not isinstance(carried, dict) or str(carried.get("back")).split("?")[0] != request.url.path:
        return None
    return take_carried(request, str(carried.get("action")))


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
    owner = _owner(str(session.get("subject", "")), str(session.get("grantee", "")))
    since = session.get("since", seen)
    idle = now - seen > settings.console_idle_minutes * 60
    if idle or not isinstance(since, int | float) or now - since > SESSION_HOURS * 3600:
        request.clear_session()
        raise SignInRequired(ended=True, owner=owner if session.get("subject") else "")
    try:
        principal = verify_token(settings, token)
    except NotAuthenticated:
        request.clear_session()
        raise SignInRequired(ended=True, owner=owner if session.get("subject") else "") from None
    session["seen"] = now
    request.set_session(session)
    return Staff(principal, str(session.get("grantee", "")), token)
