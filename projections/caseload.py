"""Caseload: one row per participant with current stage, placement, facility and cohort.

Days in stage are computed when read (from `stage_started_at`), so the rows themselves stay a
pure function of the log.
"""

from __future__ import annotations

from typing import Any

from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant
from projections.base import Projection, handles
from projections.erasure import ERASED
from projections.ops import Append, IfNull, Inc, Ref, Remove, Writer


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
    def enrolled(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "caseload",
            {
                "participant_id": e.originator_id,
                "number": e.number,
                "first_name": e.personal.first_name,
                "last_name": e.personal.last_name,
                "cohort_code": e.cohort_code,
                "program_entry_date": e.program_entry_date,
                "stage": 1,
                "placement": "bop_institution",
                "facility_code": e.facility_code,
                "stage_started_at": e.occurred_at,
                "funding_source": e.funding_source.value,
                "status": "active",
                "last_event_at": e.timestamp,
                "last_position": position,
            },
        )

    @handles(Participant.StageTransitioned, Participant.ReturnedToCustody)
    def moved(self, w: Writer, e: Any, position: int) -> None:
        returned = isinstance(e, Participant.ReturnedToCustody)
        w.update(
            "caseload",
            {
                "stage": 1 if returned else int(e.to_stage),
                "placement": "bop_institution" if returned else e.placement.value,
                "facility_code": e.facility_code,
                "stage_started_at": e.occurred_at,
                "funding_source": e.funding_source.value,
                "returns_to_custody": Inc(int(returned)),
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Participant.Exited)
    def exited(self, w: Writer, e: Any, position: int) -> None:
        w.update(
            "caseload",
            {
                "status": "exited",
                "exit_date": e.exit_date,
                "exit_reason": e.reason.value,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Mentor.Registered)
    def mentor(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "caseload_mentors",
            {"mentor_id": e.originator_id, "display_name": e.display_name, "subject": e.subject},
        )

    @handles(Pairing.Opened)
    def pairing(self, w: Writer, e: Any, position: int) -> None:
        w.insert("caseload_pairings", {"pairing_id": e.originator_id, "mentor_id": e.mentor_id})

    @handles(Participant.PairingJoined)
    def joined(self, w: Writer, e: Any, position: int) -> None:
        change: dict[str, Any]
        if e.individual:
            change = {
                "individual_pairing_id": e.pairing_id,
                "mentor_id": Ref("caseload_pairings", "mentor_id", {"pairing_id": e.pairing_id}),
            }
        else:
            change = {"group_pairing_ids": Append(e.pairing_id)}
        w.update(
            "caseload",
            {
                **change,
                "first_paired_at": IfNull(e.occurred_at),
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Participant.PairingLeft)
    def left(self, w: Writer, e: Any, position: int) -> None:
        change: dict[str, Any]
        if e.individual:
            change = {"individual_pairing_id": None, "mentor_id": None}
        else:
            change = {"group_pairing_ids": Remove(e.pairing_id)}
        w.update(
            "caseload",
            {**change, "last_event_at": e.timestamp, "last_position": position},
            participant_id=e.originator_id,
        )

    @handles(Participant.Erased)
    def erased(self, w: Writer, e: Any, position: int) -> None:
        w.update(
            "caseload",
            {
                "first_name": ERASED,
                "last_name": ERASED,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )
