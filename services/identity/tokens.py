"""Bearer tokens (DESIGN D5): OIDC-shaped JWT claims, HS256 signed in development."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from domain import clock
from services.identity import oidc
from services.identity.access import Role
from services.settings import Settings


class NotAuthenticated(Exception):
    """No token, or one that is expired, forged or for another audience."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    grantees: frozenset[str]
    # The RRC (facility code) an `rrc_staff` token or RRC API key is scoped to (DESIGN D5).
    rrc: str | None = None

    def may_see(self, slug: str) -> bool:
        return "*" in self.grantees or slug in self.grantees


def issue_token(
    settings: Settings,
    *,
    subject: str,
    roles: list[str],
    grantees: list[str],
    ttl_seconds: int = 8 * 3600,
    rrc: str | None = None,
) -> str:
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    if rrc is not None:
        if roles != [Role.RRC_STAFF.value]:
            raise ValueError("an RRC claim goes on rrc_staff tokens only")
        if len(grantees) != 1 or grantees[0] == "*":
            raise ValueError("an rrc_staff token names exactly one grantee")
        if not RRC_CODE.fullmatch(rrc):
            raise ValueError("the RRC is a facility code: 2-16 upper-case letters, digits, dashes")
    now = int(clock.now().timestamp())
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
    if rrc is not None:
        claims["rrc"] = rrc
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal of a bearer token: RS256/ES256 against the provider's key set when
    `PROWD_JWKS_URL` is set; HS256 development tokens otherwise, never in production."""
    if settings.jwks_url:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as e:
            raise NotAuthenticated(describe(e)) from None
        if alg in oidc.ALGORITHMS:
            return _verified_by_provider(settings, token)
    if settings.environment == "production":
        raise NotAuthenticated("invalid token: only the identity provider's tokens are accepted")
    principal, expires = _verified(
        token, settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer
    )
    if expires < clock.now().timestamp() - LEEWAY_SECONDS:
        raise NotAuthenticated(describe(jwt.ExpiredSignatureError()))
    return principal


def _verified_by_provider(settings: Settings, token: str) -> Principal:
    try:
        claims = oidc.decode(
            token,
            cache=oidc.cache_for(settings.jwks_url, settings.jwks_cache_seconds),
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as e:
        raise NotAuthenticated(describe(e)) from None
    except oidc.UnknownKey:
        raise NotAuthenticated(
            "invalid token: signed with a key the provider does not publish"
        ) from None
    return principal_from_claims(claims)


LEEWAY_SECONDS = 30

# What is wrong with a refused token, in the API's words (never the library's message, which
# may quote bytes of the token). Most specific class first: a bad signature is a DecodeError.
_REASONS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.InvalidSignatureError, "the signature does not verify"),
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.ImmatureSignatureError, "not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAlgorithmError, "signed with an algorithm that is not accepted"),
    (jwt.DecodeError, "malformed: not a JWT (three base64url parts with a JSON header and claims)"),
]


def describe(error: jwt.PyJWTError) -> str:
    """`invalid token: <reason>` for a refused token (docs/security.md "Tokens")."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"invalid token: malformed: the {error.claim} claim is missing"
    reason = next((r for kind, r in _REASONS if isinstance(error, kind)), None)
    if reason is None:
        reason = "malformed" if isinstance(error, jwt.InvalidTokenError) else "refused"
    return f"invalid token: {reason}"


# An RRC is named by its facility code (domain/facilities.py CODE).
RRC_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,15}$")


def rrc_claim(claims: dict[str, Any]) -> str | None:
    """The `rrc` claim of an `rrc_staff` token when it is a well-formed facility code; any
    other value counts as none (RRC endpoints then refuse the token), and other roles'
    tokens never carry one."""
    value = claims.get("rrc")
    if isinstance(value, str) and RRC_CODE.fullmatch(value):
        return value
    return None


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
            # Expiry is checked against the clock (DESIGN D10) by the caller, on every use.
            options={
                "require": ["exp", "sub", "aud", "iss"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as e:
        raise NotAuthenticated(describe(e)) from None
    if not isinstance(claims["exp"], int | float):
        raise NotAuthenticated("invalid token: malformed: the exp claim must be a number")
    return principal_from_claims(claims), float(claims["exp"])


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles", [])
    grantees = claims.get("grantees", [])
    if not isinstance(roles, list) or not isinstance(grantees, list):
        raise NotAuthenticated("invalid token: roles and grantees must be lists")
    return Principal(
        subject=str(claims["sub"]),
        roles=frozenset(str(r) for r in roles),
        grantees=frozenset(str(g) for g in grantees),
        rrc=rrc_claim(claims),
    )
