"""All read models, in one list: the worker, rebuilds and digests iterate over it."""

from __future__ import annotations

from projections import goals, meetings, oversight, rrc, supervision
from projections.base import Projection
from projections.caseload import Caseload
from projections.directory import Directory
from projections.mentors import MentorRoster
from projections.pairings import PairingView
from projections.timeline import Timeline

PROJECTIONS: tuple[Projection, ...] = (
    Caseload(),
    Directory(),
    MentorRoster(),
    PairingView(),
    *meetings.VIEWS,
    *goals.VIEWS,
    *supervision.VIEWS,
    *rrc.VIEWS,
    *oversight.VIEWS,
    Timeline(),
)


def by_name(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    raise KeyError(name)
