"""How the console shows values: instants in the grantee's zone (the API already answers in it,
with the offset), dates, and the words of codes."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from domain.stages import Placement


def when(value: Any) -> str:
    """`Tue 24 Nov 2026, 18:05 (UTC-06:00)` for an RFC 3339 instant with its offset."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    offset = at.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{at:%a %d %b %Y, %H:%M} ({zone})" if zone else f"{at:%a %d %b %Y, %H:%M}"


def day(value: Any) -> str:
    if not value:
        return ""
    try:
        return f"{date.fromisoformat(str(value)[:10]):%a %d %b %Y}"
    except ValueError:
        return str(value)


def words(value: Any) -> str:
    """`bop_institution` → `bop institution`."""
    return str(value or "").replace("_", " ")


def placement(value: Any) -> str:
    """A placement in words (domain/stages.py): `rrc` → `an RRC`, `community` → `the
    community`; a value the domain does not know as it is."""
    try:
        return Placement(str(value)).in_words
    except ValueError:
        return words(value)


def event(kind: Any) -> str:
    """`participant.StageTransitioned` → `Stage transitioned`; a one-word event names its
    record: `goal.Set` → `Goal set` (a stored topic `domain.goals:Goal.Set` alike)."""
    parts = str(kind or "").replace(":", ".").split(".")
    name = parts[-1]
    spaced = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    if " " not in spaced and len(parts) > 1:
        spaced = f"{parts[-2].lower()} {spaced}"
    return spaced[:1].upper() + spaced[1:]


def size(value: Any) -> str:
    """`512 bytes`, `1.5 KB`, `2.3 MB`, `10 MB` (1024-based, as file browsers show them)."""
    n = int(value or 0)
    if n < 1024:
        return f"{n} byte{'' if n == 1 else 's'}"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def count(n: Any, thing: str) -> str:
    """`1 group`, `2 groups`, `0 modules`."""
    k = int(n or 0)
    return f"{k} {thing}{'' if k == 1 else 's'}"


def ended(text: str) -> str:
    """A notice ending in one full stop, though a name in it ends with its own ("Denise R.")."""
    return text if text.endswith((".", "!", "?")) else f"{text}."


def bdi(value: Any) -> Markup | str:
    """A value people typed (a name, a note), isolated in `<bdi>` so that its bidirectional
    characters (a right-to-left name, an override stored before names refused them) cannot
    reorder the text around it (docs/decisions.md 130). An empty value stays "" so that
    `value | bdi or "—"` still falls back (an absent value too: jinja's undefined)."""
    if value is None or str(value) == "":
        return ""
    return Markup("<bdi>") + escape(value) + Markup("</bdi>")


def register_filters(env: Environment) -> None:
    env.filters["bdi"] = bdi
    env.filters["count"] = count
    env.filters["size"] = size
    env.filters["when"] = when
    env.filters["day"] = day
    env.filters["words"] = words
    env.filters["placement"] = placement
    env.filters["event"] = event
