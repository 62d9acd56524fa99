"""The role matrix, written once as data and enforced from here (DESIGN D5).

Each action names the roles allowed to perform it and its scope: `platform` actions concern
the platform itself; `grantee` actions need the grantee in the token's `grantees` claim, and
answer 404 for any other grantee. `docs/security.md` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    GRANTEE_ADMIN = "grantee_admin"
    COORDINATOR = "coordinator"
    CASE_MANAGER = "case_manager"
    PEER_MENTOR = "peer_mentor"
    RRC_STAFF = "rrc_staff"
    AUDITOR = "auditor"
    FEDERAL_OVERSIGHT = "federal_oversight"


R = Role
STAFF = frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.CASE_MANAGER})
GRANTEE_ROLES = frozenset(set(R) - {R.PLATFORM_ADMIN})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: str  # "platform" or "grantee"
    personal_data: bool  # whether the response carries personal data
    summary: str


MATRIX: dict[str, Rule] = {
    "grantees.create": Rule(frozenset({R.PLATFORM_ADMIN}), "platform", False, "register a grantee"),
    "grantees.list": Rule(frozenset({R.PLATFORM_ADMIN}), "platform", False, "list grantees"),
    "grantees.read": Rule(frozenset(set(R)), "grantee", False, "read a grantee's profile"),
    "facilities.write": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}), "grantee", False,
        "register facilities, start and graduate cohorts",
    ),
    "facilities.read": Rule(
        GRANTEE_ROLES - {R.FEDERAL_OVERSIGHT}, "grantee", False, "list facilities and cohorts"
    ),
    "participants.enroll": Rule(STAFF, "grantee", True, "enrol a participant"),
    "participants.move": Rule(
        STAFF, "grantee", True, "record stage transitions, returns to custody and exits"
    ),
    "participants.read": Rule(
        STAFF | {R.AUDITOR}, "grantee", True, "read participants, the caseload and histories"
    ),
}


def allowed(action: str, roles: frozenset[str]) -> bool:
    return bool(MATRIX[action].roles & roles)
