"""An open pairing whose mentee has exited by the 90-day rule waits for staff (decision 104).

A derived exit (domain/definitions.py `derived_exit`, decision 85) has no event: nothing
flags the pairings of a mentee when it takes effect, as recording an exit does
(`review_after_move`). So the review is worked out when a pairing is read: an open pairing
with a member whose derived exit has taken effect is shown for review, naming the exit. The
pairing is ended by closing it; the closure then cites the exits it answers (`exit_of`), so an
auditor reads why it ended from the event itself.

An open pairing is planned service for its mentees (`service_planned`), so a mentee does not
exit while paired: the exits reviewed here took effect before the pairing opened (a fact dated
in the past and recorded after the match, such as a release that ended the mentee's classes
months before; a match recorded before decision 97 refused such matches, or in the window in
which the views had not yet applied the mentee's facts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec

# The only basis: a recorded exit flags the pairing with an event (`mentee_ineligible`).
Basis = Literal["derived"]


class MenteeExit(msgspec.Struct, frozen=True, kw_only=True):
    """A member's derived exit: who, the exit's date (their last service, PIRL 901), and its
    basis (derived by the 90-day rule, not recorded)."""

    participant_id: UUID
    exited_on: Annotated[
        date, msgspec.Meta(description="The exit's date: the member's last service (PIRL 901)")
    ]
    basis: Annotated[
        Basis,
        msgspec.Meta(
            description="`derived`: by the 90-day rule (more than 90 days without service,"
            " none planned), no exit recorded"
        ),
    ] = "derived"


def exit_review(
    is_open: bool, members: Iterable[UUID], exited: Mapping[UUID, date]
) -> tuple[MenteeExit, ...]:
    """The members of an open pairing whose derived exit has taken effect (`exited`: the exit
    date of each participant whose derived exit is in effect), in id order; none for a closed
    pairing (its closure answered them)."""
    if not is_open:
        return ()
    return tuple(
        MenteeExit(participant_id=m, exited_on=exited[m])
        for m in sorted(set(members))
        if m in exited
    )
