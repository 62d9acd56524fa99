"""All read models, in one list: the worker, rebuilds and digests iterate over it."""

from __future__ import annotations

from projections.base import Projection
from projections.caseload import Caseload
from projections.directory import Directory

PROJECTIONS: tuple[Projection, ...] = (Caseload(), Directory())


def by_name(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    raise KeyError(name)
