"""The oversight facts' tables: their DDL, their stable order, and the columns handlers insert
and the report reads (projections/oversight.py)."""

from __future__ import annotations

COLUMNS: dict[str, str] = {
    "ov_participants": "participant_id, entry_date, position, recorded_at, cohort_code",
    "ov_cohorts": "cohort_id, code, position, graduated_on, graduated_position",
    "ov_moves": "position, participant_id, kind, from_stage, to_stage, occurred_at, recorded_at",
    "ov_exits": "participant_id, position, exit_date, reason, recorded_at",
    "ov_memberships": "position, participant_id, pairing_id, joined_at, left_at, left_position",
    "ov_pairings": "pairing_id, position, mentor_id, opened_at, closed_at, close_position, members",
    "ov_meetings": (
        "meeting_id, pairing_id, mentor_id, scheduled_position, scheduled_recorded_at,"
        " scheduled_for, status, status_position, occurred_at, duration_minutes, week,"
        " attendees, positions, excused"
    ),
    "ov_mentors": (
        "mentor_id, position, registered_at, certified_at, certified_position, participant_id"
    ),
    "ov_trainings": "position, mentor_id, module, completed_on, hours",
    "ov_goals": "goal_id, position, set_at, horizon, status, closed_at, close_position",
    "ov_escalations": "escalation_id, position, type, raised_at, resolved_at, resolve_position",
    "ov_feedback": "feedback_id, position, given_on, score_sum, score_count",
    "ov_class_requests": (
        "request_id, position, requested_on, status, decided_on, decide_position, approved_on,"
        " revoked_on, revoke_position"
    ),
    "ov_sessions": "meeting_id, position, session, occurred_at, duration_minutes",
    "ov_policy": "policy_id, position, mentoring_is_service",
    "ov_services": "position, participant_id, kind, served_on",
    "ov_referrals": "referral_id, participant_id",
}

# The column names of `COLUMNS`, in order: the tuples handlers insert.
NAMES: dict[str, tuple[str, ...]] = {
    table: tuple(c.strip() for c in columns.split(",")) for table, columns in COLUMNS.items()
}


TABLES: dict[str, str] = {
    "ov_participants": (
        "participant_id uuid PRIMARY KEY, entry_date date NOT NULL,"
        " position bigint NOT NULL, recorded_at timestamptz NOT NULL, cohort_code text NOT NULL"
    ),
    "ov_cohorts": (
        "cohort_id uuid PRIMARY KEY, code text NOT NULL, position bigint NOT NULL,"
        " graduated_on date, graduated_position bigint"
    ),
    "ov_moves": (
        "position bigint PRIMARY KEY, participant_id uuid NOT NULL, kind text NOT NULL,"
        " from_stage int NOT NULL, to_stage int NOT NULL, occurred_at timestamptz NOT NULL,"
        " recorded_at timestamptz NOT NULL"
    ),
    "ov_exits": (
        "participant_id uuid PRIMARY KEY, position bigint NOT NULL, exit_date date NOT NULL,"
        " reason text NOT NULL, recorded_at timestamptz NOT NULL"
    ),
    "ov_memberships": (
        "position bigint PRIMARY KEY, participant_id uuid NOT NULL, pairing_id uuid NOT NULL,"
        " joined_at timestamptz NOT NULL, left_at timestamptz, left_position bigint"
    ),
    "ov_pairings": (
        "pairing_id uuid PRIMARY KEY, position bigint NOT NULL, mentor_id uuid NOT NULL,"
        " members uuid[] NOT NULL, opened_at timestamptz NOT NULL, closed_at timestamptz,"
        " close_position bigint"
    ),
    "ov_meetings": (
        "meeting_id uuid PRIMARY KEY, pairing_id uuid NOT NULL, mentor_id uuid,"
        " scheduled_position bigint NOT NULL, scheduled_recorded_at timestamptz NOT NULL,"
        " scheduled_for timestamptz NOT NULL, status text NOT NULL, status_position bigint,"
        " occurred_at timestamptz, duration_minutes int, week text NOT NULL,"
        " attendees uuid[] NOT NULL DEFAULT '{}', positions bigint[] NOT NULL DEFAULT '{}',"
        " excused boolean NOT NULL DEFAULT false"
    ),
    "ov_mentors": (
        "mentor_id uuid PRIMARY KEY, position bigint NOT NULL,"
        " registered_at timestamptz NOT NULL, certified_at timestamptz,"
        " certified_position bigint, participant_id uuid"
    ),
    "ov_trainings": (
        "position bigint PRIMARY KEY, mentor_id uuid NOT NULL, module text NOT NULL,"
        " completed_on date NOT NULL, hours float8 NOT NULL"
    ),
    "ov_goals": (
        "goal_id uuid PRIMARY KEY, position bigint NOT NULL, set_at timestamptz NOT NULL,"
        " horizon text NOT NULL, status text NOT NULL, closed_at timestamptz,"
        " close_position bigint"
    ),
    "ov_escalations": (
        "escalation_id uuid PRIMARY KEY, position bigint NOT NULL, type text NOT NULL,"
        " raised_at timestamptz NOT NULL, resolved_at timestamptz, resolve_position bigint"
    ),
    "ov_feedback": (
        "feedback_id uuid PRIMARY KEY, position bigint NOT NULL, given_on date NOT NULL,"
        " score_sum int NOT NULL, score_count int NOT NULL"
    ),
    # Class-session requests to a facility and its decisions (domain/class_sessions.py).
    "ov_class_requests": (
        "request_id uuid PRIMARY KEY, position bigint NOT NULL, requested_on date NOT NULL,"
        " status text NOT NULL, decided_on date, decide_position bigint, approved_on date,"
        " revoked_on date, revoke_position bigint"
    ),
    # Held meetings recorded as class sessions or graduate speaker sessions.
    "ov_sessions": (
        "meeting_id uuid PRIMARY KEY, position bigint NOT NULL, session text NOT NULL,"
        " occurred_at timestamptz NOT NULL, duration_minutes int NOT NULL"
    ),
    # The program policy's settings the figures depend on (domain/policy.py).
    "ov_policy": (
        "policy_id uuid PRIMARY KEY, position bigint NOT NULL, mentoring_is_service boolean NOT NULL"
    ),
    # Other participation-level services: case-management contacts and referral connections.
    "ov_services": (
        "position bigint PRIMARY KEY, participant_id uuid NOT NULL, kind text NOT NULL,"
        " served_on date NOT NULL"
    ),
    # Whose each referral is (a connection names the referral only).
    "ov_referrals": "referral_id uuid PRIMARY KEY, participant_id uuid NOT NULL",
}
ORDER: dict[str, str] = {
    "ov_participants": "participant_id",
    "ov_cohorts": "cohort_id",
    "ov_moves": "position",
    "ov_exits": "participant_id",
    "ov_memberships": "position",
    "ov_pairings": "pairing_id",
    "ov_meetings": "meeting_id",
    "ov_mentors": "mentor_id",
    "ov_trainings": "position",
    "ov_goals": "goal_id",
    "ov_escalations": "escalation_id",
    "ov_feedback": "feedback_id",
    "ov_class_requests": "request_id",
    "ov_sessions": "meeting_id",
    "ov_policy": "policy_id",
    "ov_services": "position",
    "ov_referrals": "referral_id",
}
