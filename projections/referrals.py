"""Referral view: the grantee's resource directory and every referral with its status."""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.participants import Participant
from domain.resources import Referral, Resource
from projections.base import Projection, Tables, handles
from projections.erasure import erased

Cur = Cursor[TupleRow]


class ReferralView(Projection):
    name = "referrals"
    tables: ClassVar[dict[str, str]] = {
        "resources": (
            "resource_id uuid PRIMARY KEY, name text NOT NULL, category text NOT NULL,"
            " description text NOT NULL, phone text NOT NULL, email text NOT NULL,"
            " address text NOT NULL, website text NOT NULL, requires_case_manager boolean NOT NULL,"
            " withdrawn boolean NOT NULL DEFAULT false, withdrawn_reason text,"
            " listed_at timestamptz NOT NULL, referrals int NOT NULL DEFAULT 0,"
            " connected int NOT NULL DEFAULT 0, last_position bigint NOT NULL"
        ),
        "referrals": (
            "referral_id uuid PRIMARY KEY, participant_id uuid NOT NULL, resource_id uuid NOT NULL,"
            " category text NOT NULL, meeting_id uuid, need text NOT NULL, made_by text NOT NULL,"
            " made_at timestamptz NOT NULL, case_manager text, handed_over_at timestamptz,"
            " status text NOT NULL, outcome_on date, declined_by text, outcome_note text,"
            " last_position bigint NOT NULL"
        ),
    }
    order: ClassVar[dict[str, str]] = {"resources": "resource_id", "referrals": "referral_id"}

    def _resource(
        self, cur: Cur, t: Tables, resource_id: Any, position: int, assignments: str, *params: Any
    ) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET " + assignments + " last_position = %s WHERE resource_id = %s"
            ).format(t["resources"]),
            (*params, position, resource_id),
        )

    def _referral(
        self, cur: Cur, t: Tables, e: Any, position: int, assignments: str, *params: Any
    ) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET " + assignments + " last_position = %s WHERE referral_id = %s"
            ).format(t["referrals"]),
            (*params, position, e.originator_id),
        )

    @handles(Resource.Listed)
    def listed(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        c = e.contact
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (resource_id, name, category, description, phone, email, address,"
                " website, requires_case_manager, listed_at, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(t["resources"]),
            (
                e.originator_id,
                e.name,
                e.category.value,
                e.description,
                c.phone,
                c.email,
                c.address,
                c.website,
                e.requires_case_manager,
                e.occurred_at,
                position,
            ),
        )

    @handles(Resource.Updated)
    def updated(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        c = e.contact
        self._resource(
            cur,
            t,
            e.originator_id,
            position,
            "name = %s, description = %s, phone = %s, email = %s, address = %s, website = %s,"
            " requires_case_manager = %s,",
            e.name,
            e.description,
            c.phone,
            c.email,
            c.address,
            c.website,
            e.requires_case_manager,
        )

    @handles(Resource.Withdrawn)
    def withdrawn(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        self._resource(
            cur, t, e.originator_id, position, "withdrawn = true, withdrawn_reason = %s,", e.reason
        )

    @handles(Referral.Made)
    def made(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (referral_id, participant_id, resource_id, category, meeting_id,"
                " need, made_by, made_at, status, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'made', %s)"
            ).format(t["referrals"]),
            (
                e.originator_id,
                e.participant_id,
                e.resource_id,
                e.category.value,
                e.meeting_id,
                e.need,
                e.made_by,
                e.occurred_at,
                position,
            ),
        )
        self._resource(cur, t, e.resource_id, position, "referrals = referrals + 1,")

    @handles(Referral.HandedToCaseManager)
    def handed_over(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        self._referral(
            cur,
            t,
            e,
            position,
            "case_manager = %s, handed_over_at = %s,",
            e.case_manager,
            e.occurred_at,
        )

    @handles(Referral.Connected)
    def connected(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        self._referral(
            cur,
            t,
            e,
            position,
            "status = 'connected', outcome_on = %s, outcome_note = %s,",
            e.connected_on,
            e.note,
        )
        cur.execute(
            sql.SQL(
                "UPDATE {r} SET connected = connected + 1 WHERE resource_id ="
                " (SELECT resource_id FROM {f} WHERE referral_id = %s)"
            ).format(r=t["resources"], f=t["referrals"]),
            (e.originator_id,),
        )

    @handles(Referral.Declined)
    def declined(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        self._referral(
            cur,
            t,
            e,
            position,
            "status = 'declined', outcome_on = %s, declined_by = %s, outcome_note = %s,",
            e.declined_on,
            e.declined_by.value,
            e.reason,
        )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET need = {}, outcome_note = {} WHERE participant_id = %s").format(
                t["referrals"], erased("need"), erased("outcome_note")
            ),
            (e.originator_id,),
        )
