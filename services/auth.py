"""Bearer tokens (DESIGN D5): OIDC-shaped JWT claims, HS256 signed in development."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

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
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "aud", "iss"]},
            leeway=30,
        )
    except jwt.PyJWTError as e:
        raise NotAuthenticated(f"invalid token: {e}") from None
    roles = claims.get("roles", [])
    grantees = claims.get("grantees", [])
    if not isinstance(roles, list) or not isinstance(grantees, list):
        raise NotAuthenticated("invalid token: roles and grantees must be lists")
    return Principal(
        subject=str(claims["sub"]),
        roles=frozenset(str(r) for r in roles),
        grantees=frozenset(str(g) for g in grantees),
    )
