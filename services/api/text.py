"""Text a view can store and a person can read: the one rule for every text field of every body.

PostgreSQL `text` and `jsonb` cannot hold NUL (U+0000): an event carrying one was accepted once
and then stopped every view of its grantee (docs/decisions.md 30). No name, code or note holds
the other control characters either (Unicode category Cc: U+0001-U+001F, U+007F-U+009F), so:

- `Line`: one line of text (names, titles, contacts, short labels): no control character at all;
- `FreeText`: free text (notes, reasons, summaries): line breaks and tabs, no other control character.

Both are plain msgspec `pattern` constraints, so the OpenAPI document declares them and clients
and fuzzers see the rule; the body check (`services/api/strict.py`) answers a text field that
breaks it with 422 `invalid_text`, naming the field. Each request field adds its own lengths:
`Annotated[Line, msgspec.Meta(max_length=200)]`.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from litestar import Response

from services.api.problems import Problem, problem_response

# `$(?!\n)`: the end of the text, in Python's `re` as in ECMA-262 (where `$` alone would let
# Python accept one trailing line break).
LINE_PATTERN = r"^[^\x00-\x1F\x7F-\x9F]*$(?!\n)"
TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"

Line = Annotated[
    str,
    msgspec.Meta(
        pattern=LINE_PATTERN,
        description="one line of text: no control character (U+0000-U+001F, U+007F-U+009F)",
    ),
]
FreeText = Annotated[
    str,
    msgspec.Meta(
        pattern=TEXT_PATTERN,
        description="text: line breaks and tabs, no other control character",
    ),
]

_RULES = {
    f"matching regex {LINE_PATTERN!r}": "takes one line of text, without control characters",
    f"matching regex {TEXT_PATTERN!r}": (
        "takes text without control characters (line breaks and tabs aside)"
    ),
}
_AT = re.compile(r" - at `\$\.?(?P<key>[^`]*)`$")


def text_rule(message: str) -> str | None:
    """The text rule a validation message says was broken, in words; None for another fault."""
    return next((r for m, r in _RULES.items() if m in message), None)


def text_problem(error: msgspec.ValidationError) -> Response[Problem] | None:
    """422 `invalid_text` naming the field, when `error` is a text field breaking its rule."""
    message = str(error)
    rule = text_rule(message)
    if rule is None:
        return None
    at = _AT.search(message)
    key = at.group("key") if at else ""
    return problem_response(
        422,
        "invalid_text",
        f"{key or 'the body'} {rule}",
        errors=[{"message": f"{key} {rule}", "key": key, "source": "body"}],
    )
