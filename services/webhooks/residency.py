"""Where each participant lives, as of each event, and the messages a move sends.

The consumer records every placement the log gives a participant (`webhook_placements`):
enrolment in a BOP institution, stage transitions, returns to custody, exit. A move away from
an RRC sends `participant.left_rrc` (or `participant.exited`) to that RRC; a move into one
sends `participant.arrived_at_rrc` to the RRC arrived at; neither names a participant whose
derived exit has taken effect (`Batch.hidden`, decision 101). The other handlers ask
`residents` who lived at an RRC when their event happened.
"""

from __future__ import annotations

from datetime import date

from domain.common import ProwdAggregate
from domain.corrections import PlacementCorrected
from domain.participants import Participant, Placement
from services.webhooks.batch import Batch, PlacementRow, Resident, plain
from services.webhooks.handlers import Handlers

handlers = Handlers()
EXITED = "exited"


@handlers.handles(Participant.Enrolled)
def _enrolled(b: Batch, position: int, event: Participant.Enrolled) -> None:
    b.place(
        event.originator_id,
        position,
        event.occurred_at,
        PlacementRow(Placement.BOP_INSTITUTION.value, event.facility_code, event.number),
    )


@handlers.handles(Participant.StageTransitioned)
def _transitioned(b: Batch, position: int, event: Participant.StageTransitioned) -> None:
    _move(b, position, event, event.placement.value, event.facility_code)


@handlers.handles(Participant.ReturnedToCustody)
def _returned(b: Batch, position: int, event: Participant.ReturnedToCustody) -> None:
    _move(b, position, event, Placement.BOP_INSTITUTION.value, event.facility_code)


@handlers.handles(PlacementCorrected)
def _placement_corrected(b: Batch, position: int, event: PlacementCorrected) -> None:
    # An RRC recorded wrongly: the RRC first named is told the participant left it, the RRC
    # corrected to that they arrived.
    before = b.latest_placement(event.originator_id)
    if before is not None and before.placement != EXITED:
        _move(b, position, event, before.placement, event.facility_code)


@handlers.handles(Participant.Exited)
def _exited(b: Batch, position: int, event: Participant.Exited) -> None:
    _move(b, position, event, EXITED, None, exit_date=event.exit_date)


def _move(
    b: Batch,
    position: int,
    event: ProwdAggregate.Event,
    placement: str,
    facility: str | None,
    *,
    exit_date: date | None = None,
) -> None:
    """Record the participant's new placement; tell the RRC left and the RRC arrived at."""
    pid = event.originator_id
    before = b.latest_placement(pid)
    if before is None:
        return
    b.place(pid, position, event.occurred_at, PlacementRow(placement, facility, before.number))
    person = [Resident(pid, before.number)]
    old_facility = before.facility_code
    moved = (placement, facility) != (before.placement, old_facility)
    if (
        before.placement == Placement.RRC.value
        and old_facility
        and moved
        and not b.hidden(pid, old_facility, position)
    ):
        if exit_date is not None:
            b.emit(
                position,
                "participant.exited",
                old_facility,
                event.timestamp,
                {
                    "participant_id": pid,
                    "number": before.number,
                    "facility_code": old_facility,
                    "exit_date": exit_date,
                },
                plain(person, "participant.exited: program exit date"),
            )
        else:
            b.emit(
                position,
                "participant.left_rrc",
                old_facility,
                event.timestamp,
                {
                    "participant_id": pid,
                    "number": before.number,
                    "facility_code": old_facility,
                    "occurred_at": event.occurred_at,
                    "to_placement": placement,
                },
                plain(person, "participant.left_rrc: departure date"),
            )
    if (
        placement == Placement.RRC.value
        and facility
        and moved
        and not b.hidden(pid, facility, position)
    ):
        b.emit(
            position,
            "participant.arrived_at_rrc",
            facility,
            event.timestamp,
            {
                "participant_id": pid,
                "number": before.number,
                "facility_code": facility,
                "occurred_at": event.occurred_at,
            },
            plain(person, "participant.arrived_at_rrc: arrival date"),
        )
