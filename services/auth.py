"""Bearer tokens (DESIGN D5): OIDC-shaped JWT claims, HS256 signed in development."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt

from services.access import Role
from services.settings import Settings


class NotAuthenticated(Exception):
    """No token, or one that is expired, forged or for another audience."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    grantees: frozenset[str]

    def may_see(self, slug: str) -> bool:
        return "*" in self.grantees or slug in self.grantees


def issue_token(
    settings: Settings,
    *,
    subject: str,
    roles: list[str],
    grantees: list[str],
    ttl_seconds: int = 8 * 3600,
) -> str:
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "roles": roles,
        "grantees": grantees,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Principal:
    principal, expires = _verified(
        token, settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer
    )
    if expires < time.time() - LEEWAY_SECONDS:
        raise NotAuthenticated("invalid token: Signature has expired")
    return principal


LEEWAY_SECONDS = 30


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str, audience: str, issuer: str) -> tuple[Principal, float]:
    """Signature and claims checked once per token (a client sends the same token many times);
    expiry is checked on every use by the caller. Failures are not cached: they raise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud", "iss"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as e:
        raise NotAuthenticated(f"invalid token: {e}") from None
    roles = claims.get("roles", [])
    grantees = claims.get("grantees", [])
    if not isinstance(roles, list) or not isinstance(grantees, list):
        raise NotAuthenticated("invalid token: roles and grantees must be lists")
    principal = Principal(
        subject=str(claims["sub"]),
        roles=frozenset(str(r) for r in roles),
        grantees=frozenset(str(g) for g in grantees),
    )
    return principal, float(claims["exp"])
