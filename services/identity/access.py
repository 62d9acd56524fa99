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
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        False,
        "register facilities, start and graduate cohorts",
    ),
    "facilities.read": Rule(
        GRANTEE_ROLES - {R.FEDERAL_OVERSIGHT}, "grantee", False, "list facilities and cohorts"
    ),
    "class_sessions.request": Rule(
        STAFF,
        "grantee",
        False,
        "ask a facility for class sessions with a cohort (group mentoring, graduate speakers)",
    ),
    "class_sessions.decide": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        False,
        "record a facility's approval, denial or revocation of class sessions",
    ),
    "class_sessions.read": Rule(
        STAFF | {R.AUDITOR, R.PEER_MENTOR},
        "grantee",
        False,
        "read class-session requests and the facilities' decisions",
    ),
    "participants.enroll": Rule(STAFF, "grantee", True, "enrol a participant"),
    "participants.move": Rule(
        STAFF, "grantee", True, "record stage transitions, returns to custody and exits"
    ),
    "participants.correct": Rule(
        STAFF,
        "grantee",
        True,
        "correct a participant's personal details or entry date, with a reason",
    ),
    "participants.assign": Rule(
        STAFF,
        "grantee",
        True,
        "assign or reassign a participant's case manager and coordinator",
    ),
    "staff.read": Rule(
        STAFF | {R.AUDITOR},
        "grantee",
        False,
        "list the staff the grantee's assignments know, with the participants each holds",
    ),
    "participants.contact": Rule(
        STAFF,
        "grantee",
        True,
        "record a participant's contact details and projected release date",
    ),
    "participants.read": Rule(
        STAFF | {R.AUDITOR, R.PEER_MENTOR},
        "grantee",
        True,
        "read participants, the caseload and histories (peer mentors: their own mentees only)",
    ),
    "participants.erase": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        True,
        "erase a participant's personal data (crypto-shredding; refused under a legal hold)",
    ),
    "mentors.write": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        True,
        "register, screen, train, clear, certify, suspend, reinstate and retire mentors",
    ),
    "imports.run": Rule(
        STAFF,
        "grantee",
        False,
        "import participants (and their stages) from CSV/XLSX, or dry-run it; mentors only"
        " where the role may also register mentors",
    ),
    "mentors.read": Rule(
        STAFF | {R.AUDITOR}, "grantee", True, "read the mentor roster and mentor histories"
    ),
    "commands.batch": Rule(
        STAFF | {R.PEER_MENTOR},
        "grantee",
        False,
        "send a batch of commands (each item needs the action of its own endpoint)",
    ),
    "pairings.write": Rule(
        STAFF, "grantee", True, "open, change and close pairings; resolve review flags"
    ),
    "pairings.read": Rule(
        STAFF | {R.AUDITOR, R.PEER_MENTOR},
        "grantee",
        True,
        "read pairings (peer mentors: their own pairings only)",
    ),
    "policy.write": Rule(frozenset({R.GRANTEE_ADMIN}), "grantee", False, "set the program policy"),
    "policy.read": Rule(GRANTEE_ROLES, "grantee", False, "read the program policy"),
    "meetings.write": Rule(
        STAFF | {R.PEER_MENTOR},
        "grantee",
        True,
        "schedule, record, amend, miss and cancel meetings (peer mentors: their own pairings)",
    ),
    "meetings.read": Rule(
        STAFF | {R.AUDITOR, R.PEER_MENTOR},
        "grantee",
        True,
        "read meetings, meeting logs and cadence (confidential notes: author and coordinator only)",
    ),
    "goals.write": Rule(
        STAFF | {R.PEER_MENTOR},
        "grantee",
        True,
        "set, break down, update, revise, achieve and abandon SMART goals (peer mentors: own mentees)",
    ),
    "goals.read": Rule(
        STAFF | {R.AUDITOR, R.PEER_MENTOR}, "grantee", True, "read goals and goal boards"
    ),
    "supervision.write": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        True,
        "record debriefs and mentor assessments; acknowledge and resolve escalations",
    ),
    "escalations.raise": Rule(
        frozenset({R.COORDINATOR, R.CASE_MANAGER, R.PEER_MENTOR}),
        "grantee",
        True,
        "raise an escalation (a mentor asks the coordinator for guidance)",
    ),
    "supervision.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        True,
        "read debriefs, escalations, assessments and the support-network view",
    ),
    "feedback.write": Rule(STAFF, "grantee", True, "record participants' feedback on mentoring"),
    # Feedback on a mentor is the supervisors' (decision 146): case managers collect it only.
    "feedback.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        True,
        "read participants' feedback on mentoring",
    ),
    # Whoever records a participant's outcomes reads them (decision 146).
    "outcomes.write": Rule(
        STAFF, "grantee", True, "record a participant's outcomes (exit, job, credential, housing)"
    ),
    "outcomes.read": Rule(STAFF | {R.AUDITOR}, "grantee", True, "read participants' outcomes"),
    "feedback.mentor_copy": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR, R.PEER_MENTOR}),
        "grantee",
        True,
        "read a mentor's copy of their feedback (peer mentors: their own)",
    ),
    "calendar.feed": Rule(
        STAFF | {R.PEER_MENTOR},
        "grantee",
        False,
        "issue (or replace) one's own calendar feed link",
    ),
    "casenotes.write": Rule(STAFF, "grantee", True, "write case notes on a participant"),
    "casework.write": Rule(
        STAFF, "grantee", False, "record a case-management contact with a participant"
    ),
    "casenotes.read": Rule(
        STAFF | {R.AUDITOR},
        "grantee",
        True,
        "read a participant's case notes (never peer mentors, RRC staff or oversight)",
    ),
    "documents.write": Rule(
        STAFF, "grantee", True, "attach documents to a participant and remove them"
    ),
    "documents.read": Rule(
        STAFF | {R.AUDITOR},
        "grantee",
        True,
        "list a participant's documents (never peer mentors, RRC staff or oversight)",
    ),
    "documents.download": Rule(
        STAFF | {R.AUDITOR},
        "grantee",
        True,
        "download a participant's document (never peer mentors, RRC staff or oversight)",
    ),
    "resources.write": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        False,
        "maintain the resource directory",
    ),
    "resources.read": Rule(
        GRANTEE_ROLES - {R.FEDERAL_OVERSIGHT}, "grantee", False, "read the resource directory"
    ),
    "referrals.write": Rule(
        STAFF | {R.PEER_MENTOR},
        "grantee",
        True,
        "make referrals and record their outcome (peer mentors: own mentees; hand over to a case manager)",
    ),
    "referrals.read": Rule(STAFF | {R.AUDITOR, R.PEER_MENTOR}, "grantee", True, "read referrals"),
    "retention.read": Rule(
        frozenset({R.PLATFORM_ADMIN, R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        False,
        "read the grantee's records retention and legal holds",
    ),
    "retention.write": Rule(
        frozenset({R.PLATFORM_ADMIN, R.GRANTEE_ADMIN}),
        "grantee",
        False,
        "record the final expenditure report date; place and release legal holds",
    ),
    "retention.report": Rule(
        frozenset({R.PLATFORM_ADMIN}),
        "platform",
        False,
        "list every grantee's retention status (what is due for disposal)",
    ),
    "audit.verify": Rule(
        frozenset({R.GRANTEE_ADMIN, R.AUDITOR}),
        "grantee",
        False,
        "verify the grantee's log against its hash chain",
    ),
    "audit.events": Rule(
        frozenset({R.AUDITOR}),
        "grantee",
        True,
        "stream the grantee's stored events with their chain hashes (confidential notes redacted)",
    ),
    "audit.as_of": Rule(
        frozenset({R.AUDITOR}),
        "grantee",
        True,
        "reconstruct a participant, pairing, meeting or goal as it stood at a past instant",
    ),
    "audit.access_log": Rule(
        frozenset({R.GRANTEE_ADMIN, R.AUDITOR}),
        "grantee",
        False,
        "read the access log of responses that carried personal data",
    ),
    "consents.write": Rule(
        STAFF,
        "grantee",
        True,
        "record and revoke a participant's Part 2 consents",
    ),
    "consents.read": Rule(
        STAFF | {R.AUDITOR}, "grantee", True, "read a participant's Part 2 consents"
    ),
    "disclosures.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        True,
        "read a participant's accounting of disclosures",
    ),
    "rrc.read": Rule(
        STAFF | {R.RRC_STAFF},
        "grantee",
        True,
        "read an RRC's residents and their meeting records (RRC staff and keys: their own RRC)",
    ),
    "rrc.webhooks": Rule(
        frozenset({R.GRANTEE_ADMIN, R.RRC_STAFF}),
        "grantee",
        False,
        "an RRC's own webhook endpoints and deliveries: list, redeliver one or a range"
        " (RRC staff and keys: their own RRC)",
    ),
    "api_keys.write": Rule(
        frozenset({R.GRANTEE_ADMIN}), "grantee", False, "issue and revoke RRC API keys"
    ),
    "api_keys.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.AUDITOR}),
        "grantee",
        False,
        "list RRC API keys (never their secrets)",
    ),
    "reports.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR, R.FEDERAL_OVERSIGHT}),
        "grantee",
        False,
        "read the grantee's quarterly oversight report and its figures' drill-down (aggregates)",
    ),
    "oversight.read": Rule(
        frozenset({R.FEDERAL_OVERSIGHT}),
        "platform",
        False,
        "read the quarterly oversight report across the grantees of the token (aggregates)",
    ),
    "alerts.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.CASE_MANAGER}),
        "grantee",
        False,
        "read the grantee's alerts (cadence, overdue goals, crises, clearances, debriefs)",
    ),
    "webhooks.write": Rule(
        frozenset({R.GRANTEE_ADMIN}),
        "grantee",
        False,
        "register, change, disable and rotate webhook endpoints; redeliver, recover, ping",
    ),
    "webhooks.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        False,
        "read webhook endpoints (never their secrets), deliveries and attempts",
    ),
    "exports.pirl": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR}),
        "grantee",
        True,
        "generate a quarter's PIRL file (recorded with its digest in the export register)",
    ),
    "exports.certify": Rule(
        frozenset({R.COORDINATOR}),
        "grantee",
        False,
        "certify a recorded PIRL file as the grantee's submission (name, title, statement)",
    ),
    "exports.read": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        False,
        "list past exports with their digests",
    ),
    "exports.file": Rule(
        frozenset({R.GRANTEE_ADMIN, R.COORDINATOR, R.AUDITOR}),
        "grantee",
        True,
        "regenerate a recorded export's file, checked against its digest",
    ),
}

# Roles allowed an action only over their own records; the handler narrows the result.
OWN_RECORDS_ONLY: dict[str, frozenset[Role]] = {
    "participants.read": frozenset({R.PEER_MENTOR}),
    "pairings.read": frozenset({R.PEER_MENTOR}),
    "meetings.write": frozenset({R.PEER_MENTOR}),
    "meetings.read": frozenset({R.PEER_MENTOR}),
    "goals.write": frozenset({R.PEER_MENTOR}),
    "goals.read": frozenset({R.PEER_MENTOR}),
    "referrals.write": frozenset({R.PEER_MENTOR}),
    "referrals.read": frozenset({R.PEER_MENTOR}),
    "rrc.read": frozenset({R.RRC_STAFF}),
    "feedback.mentor_copy": frozenset({R.PEER_MENTOR}),
    "rrc.webhooks": frozenset({R.RRC_STAFF}),
}


def allowed(action: str, roles: frozenset[str]) -> bool:
    return bool(MATRIX[action].roles & roles)


def only_own(action: str, roles: frozenset[str]) -> bool:
    """True when every role that allows `action` allows it over own records only."""
    granting = MATRIX[action].roles & roles
    return bool(granting) and granting <= OWN_RECORDS_ONLY.get(action, frozenset())
