"""Who may do what, said in words: the roles the role matrix allows an action, and the console's
403 page for a role that may not (before any call to the API, which would refuse it too)."""

from __future__ import annotations

from services.api.console.backend import Refusal
from services.api.console.format import words
from services.api.console.session import Staff
from services.identity.access import MATRIX, allowed

# The order roles are named in, in the sentence saying who may open a page.
_ROLE_ORDER = (
    "coordinator",
    "grantee_admin",
    "auditor",
    "federal_oversight",
    "platform_admin",
    "case_manager",
    "peer_mentor",
    "rrc_staff",
)
_ROLE_WORDS = {
    "coordinator": "coordinators",
    "grantee_admin": "grantee administrators",
    "auditor": "auditors",
    "federal_oversight": "federal oversight staff",
    "platform_admin": "platform administrators",
    "case_manager": "case managers",
    "peer_mentor": "peer mentors",
    "rrc_staff": "RRC staff",
}


def who_may(action: str) -> str:
    """The roles the role matrix allows `action`, as a reader says them ("coordinators,
    grantee administrators and auditors")."""
    roles = {str(r) for r in MATRIX[action].roles}
    named = [_ROLE_WORDS.get(r, words(r)) for r in _ROLE_ORDER if r in roles]
    named += sorted(words(r) for r in roles - set(_ROLE_ORDER))
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def may(staff: Staff, action: str, doing: str) -> None:
    """Refuse the form (403) to a role the matrix does not allow `action`, saying who may
    `doing` ("enrol a participant")."""
    if not allowed(action, staff.roles):
        raise Refusal(
            403,
            "forbidden",
            f"Only {who_may(action)} may {doing}. Your role does not include it.",
        )
