"""What the load needs in the service: tokens, and a grantee with its sites, over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import psycopg
from psycopg import sql

from services.identity.tokens import issue_token
from services.settings import Settings

FACILITY = "FCI-A"
RRC = "RRC-1"
COHORT = "C1"


class Tokens:
    """Development tokens signed with the server's secret; subjects `<prefix>-<role>`."""

    def __init__(self, secret: str, prefix: str) -> None:
        self.settings = Settings(jwt_secret=secret)
        self.prefix = prefix

    def token(self, role: str, grantees: str | Sequence[str] = "*", sub: str | None = None) -> str:
        """A token of one role for one grantee (or several, or `*`)."""
        return issue_token(
            self.settings,
            subject=sub or f"{self.prefix}-{role}",
            roles=[role],
            grantees=[grantees] if isinstance(grantees, str) else list(grantees),
        )

    def auth(
        self, role: str, grantees: str | Sequence[str] = "*", sub: str | None = None
    ) -> dict[str, str]:
        """The Authorization header of `token`."""
        return {"Authorization": "Bearer " + self.token(role, grantees, sub)}


def create_grantee(
    client: httpx.Client,
    tokens: Tokens,
    slug: str,
    *,
    name: str,
    grant_number: str = "FS-0000-26",
    rrc: bool = True,
    cohort: bool = True,
) -> None:
    """Register the grantee (as platform admin) with its institution FCI-A and, unless told
    otherwise, RRC-1 and cohort C1 at FCI-A (as its coordinator): what an enrolment needs."""
    grantee = {"slug": slug, "name": name, "grant_number": grant_number}
    client.post(
        "/v1/grantees", json=grantee, headers=tokens.auth("platform_admin")
    ).raise_for_status()
    h = tokens.auth("coordinator", slug)
    base = f"/v1/grantees/{slug}"
    sites = [{"code": FACILITY, "name": "FCI Alpha", "kind": "bop_institution"}]
    if rrc:
        sites.append({"code": RRC, "name": "RRC One", "kind": "rrc"})
    for body in sites:
        client.post(f"{base}/facilities", json=body, headers=h).raise_for_status()
    if cohort:
        body = {"code": COHORT, "facility": FACILITY, "start_date": "2026-01-05"}
        client.post(f"{base}/cohorts", json=body, headers=h).raise_for_status()


def enrolment(
    first_name: str, last_name: str, *, entry: str = "2026-01-15", born: str = "1990-01-01"
) -> dict[str, Any]:
    """The body of an enrolment into cohort C1 at FCI-A."""
    return {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": born,
        "program_entry_date": entry,
        "facility": FACILITY,
        "cohort": COHORT,
    }


def add_goals(conn: psycopg.Connection[Any], goals: sql.Composable, ids: list[Any], n: int) -> None:
    """`n` active short-term goals written straight into a goals build (`goals`: its table),
    one in ten belonging to the participants `ids` (in turn), the rest to no one enrolled;
    target dates over 600 days from 2026-01-01, so some are overdue on any day. Then ANALYZE."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (goal_id, participant_id, horizon, domain, statement, measure,"
            " target, target_date, set_on, first_set_on, revision, status, last_position)"
            " SELECT gen_random_uuid(), CASE WHEN i %% 10 = 0 THEN (%s::uuid[])[1 + i %% %s]"
            " ELSE gen_random_uuid() END, 'short_term', 'employment', 's', 'm', 't',"
            " date '2026-01-01' + (i %% 600), date '2025-12-01', date '2025-12-01', 1,"
            " 'active', i FROM generate_series(1, %s) i"
        ).format(goals),
        (ids, len(ids), n),
    )
    conn.execute(sql.SQL("ANALYZE {}").format(goals))
