"""Caseload: one row per participant with current stage, placement, facility and cohort.

Days in stage are computed when read (from `stage_started_at`), so the rows themselves stay a
pure function of the log.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED


class Caseload(Projection):
    name = "caseload"
    tables = {
        "caseload": (
            "participant_id uuid PRIMARY KEY,"
            " number text NOT NULL UNIQUE,"
            " first_name text NOT NULL,"
            " last_name text NOT NULL,"
            " cohort_code text NOT NULL,"
            " program_entry_date date NOT NULL,"
            " stage smallint NOT NULL,"
            " placement text NOT NULL,"
            " facility_code text,"
            " stage_started_at timestamptz NOT NULL,"
            " funding_source text NOT NULL,"
            " status text NOT NULL,"
            " exit_date date,"
            " exit_reason text,"
            " returns_to_custody int NOT NULL DEFAULT 0,"
            " last_event_at timestamptz NOT NULL,"
            " last_position bigint NOT NULL,"
            " individual_pairing_id uuid,"
            " mentor_id uuid,"
            " group_pairing_ids uuid[] NOT NULL DEFAULT '{}',"
            " first_paired_at timestamptz"
        ),
        # Who mentors in which pairing, so rows can name their mentor and peer mentors can be
        # shown only their own mentees.
        "caseload_mentors": "mentor_id uuid PRIMARY KEY, display_name text NOT NULL, subject text",
        "caseload_pairings": "pairing_id uuid PRIMARY KEY, mentor_id uuid NOT NULL",
    }
    order = {
        "caseload": "participant_id",
        "caseload_mentors": "mentor_id",
        "caseload_pairings": "pairing_id",
    }

    @handles(Participant.Enrolled)
    def enrolled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (participant_id, number, first_name, last_name, cohort_code,"
                " program_entry_date, stage, placement, facility_code, stage_started_at,"
                " funding_source, status, last_event_at, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, 1, 'bop_institution', %s, %s, %s, 'active', %s, %s)"
            ).format(t["caseload"]),
            (
                e.originator_id,
                e.number,
                e.personal.first_name,
                e.personal.last_name,
                e.cohort_code,
                e.program_entry_date,
                e.facility_code,
                e.occurred_at,
                e.funding_source.value,
                e.timestamp,
                position,
            ),
        )

    @handles(Participant.StageTransitioned, Participant.ReturnedToCustody)
    def moved(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        returned = isinstance(e, Participant.ReturnedToCustody)
        cur.execute(
            sql.SQL(
                "UPDATE {} SET stage = %s, placement = %s, facility_code = %s,"
                " stage_started_at = %s, funding_source = %s,"
                " returns_to_custody = returns_to_custody + %s,"
                " last_event_at = %s, last_position = %s WHERE participant_id = %s"
            ).format(t["caseload"]),
            (
                1 if returned else int(e.to_stage),
                "bop_institution" if returned else e.placement.value,
                e.facility_code,
                e.occurred_at,
                e.funding_source.value,
                int(returned),
                e.timestamp,
                position,
                e.originator_id,
            ),
        )

    @handles(Participant.Exited)
    def exited(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = 'exited', exit_date = %s, exit_reason = %s,"
                " last_event_at = %s, last_position = %s WHERE participant_id = %s"
            ).format(t["caseload"]),
            (e.exit_date, e.reason.value, e.timestamp, position, e.originator_id),
        )

    @handles(Mentor.Registered)
    def mentor(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(t["caseload_mentors"]),
            (e.originator_id, e.display_name, e.subject),
        )

    @handles(Pairing.Opened)
    def pairing(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(t["caseload_pairings"]),
            (e.originator_id, e.mentor_id),
        )

    @handles(Participant.PairingJoined)
    def joined(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        if e.individual:
            change = (
                "individual_pairing_id = %(p)s,"
                " mentor_id = (SELECT mentor_id FROM {pairings} WHERE pairing_id = %(p)s),"
            )
        else:
            change = "group_pairing_ids = array_append(group_pairing_ids, %(p)s),"
        cur.execute(
            sql.SQL(
                "UPDATE {caseload} SET "
                + change
                + " first_paired_at = coalesce(first_paired_at, %(at)s),"
                " last_event_at = %(ts)s, last_position = %(pos)s WHERE participant_id = %(id)s"
            ).format(caseload=t["caseload"], pairings=t["caseload_pairings"]),
            {
                "p": e.pairing_id,
                "at": e.occurred_at,
                "ts": e.timestamp,
                "pos": position,
                "id": e.originator_id,
            },
        )

    @handles(Participant.PairingLeft)
    def left(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        if e.individual:
            change = "individual_pairing_id = NULL, mentor_id = NULL,"
        else:
            change = "group_pairing_ids = array_remove(group_pairing_ids, %(p)s),"
        cur.execute(
            sql.SQL(
                "UPDATE {} SET " + change + " last_event_at = %(ts)s, last_position = %(pos)s"
                " WHERE participant_id = %(id)s"
            ).format(t["caseload"]),
            {"p": e.pairing_id, "ts": e.timestamp, "pos": position, "id": e.originator_id},
        )

    @handles(Participant.Erased)
    def erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET first_name = %s, last_name = %s, last_event_at = %s,"
                " last_position = %s WHERE participant_id = %s"
            ).format(t["caseload"]),
            (ERASED, ERASED, e.timestamp, position, e.originator_id),
        )
