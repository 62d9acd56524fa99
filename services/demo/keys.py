"""The natural keys of the demo's items, and their creation that tolerates a second run.

Every demo item has a natural key (grantee slug, facility or cohort code, participant number,
mentor name), so loading the demo again finds each one already there and adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from domain.common import AlreadyExists
from domain.participants import participant_id

T = TypeVar("T")


def quietly(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run a creating command; None when its natural key exists already (a second run)."""
    try:
        return fn(*args, **kwargs)
    except AlreadyExists:
        return None


def participant_number(prefix: str, n: int) -> str:
    """The participant number of the grantee's `n`th demo participant."""
    return f"{prefix}DEMO{n:04d}"


def demo_participant(prefix: str, n: int) -> UUID:
    """The id of the grantee's `n`th demo participant (derived from its number)."""
    pid: UUID = participant_id(participant_number(prefix, n))
    return pid


def mentor_subject(prefix: str, name: str) -> str:
    """The token subject of a demo mentor (`Mentor.subject`)."""
    return f"demo-mentor-{prefix.lower()}-{name.split()[0].lower()}"
