"""Refusals that are neither domain rules nor the API's own: a view that has not caught up, a
report whose log cannot be read, a report's process lost; and how any refusal quotes what it
refuses (`shown`: at most 40 characters of it).

Each carries what the API answers with (services/api/problems.py maps it to an RFC 9457
problem): the HTTP status, the stable problem code (listed in docs/errors.md), the detail and
any headers (`Retry-After`). Raised below the API, so the reports and the projector need not
import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class Refused(Exception):
    """A request refused for a reason the caller can act on (retry, ask differently)."""

    def __init__(
        self, status: int, detail: str, *, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


# How much of a refused value a refusal quotes back: enough to recognise it, never the whole of
# a value a client may have sent by the megabyte.
SHOWN = 40


def shown(value: object) -> str:
    """`value` as a refusal quotes it: its first 40 characters, repr-escaped (so a control
    character reads as `\\x00`), and how long it was when cut."""
    text = str(value)
    if len(text) <= SHOWN:
        return repr(text)
    return f"{text[:SHOWN]!r}… ({len(text)} characters)"


_ENUM_VALUE = re.compile(r"^(Invalid enum value )(?P<v>.*)$", re.DOTALL)


def clipped(message: str) -> str:
    """A validation message, the value it quotes (an enumeration's) cut as `shown` cuts it
    when longer than that."""
    found = _ENUM_VALUE.match(message)
    if found is None or len(found["v"]) <= SHOWN + 2:
        return message
    value = found["v"]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return found.group(1) + shown(value)
