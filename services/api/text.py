"""Text a view can store and a person can read: the one rule for every text field of every body.

PostgreSQL `text` and `jsonb` cannot hold NUL (U+0000): an event carrying one was accepted once
and then stopped every view of its grantee (docs/decisions.md 30). No name, code or note holds
the other control characters either (Unicode category Cc: U+0001-U+001F, U+007F-U+009F), so:

- `Line`: one line of text (contacts, addresses, descriptions, short labels): no control character;
- `FreeText`: free text (notes, reasons, summaries): line breaks and tabs, no other control character;
- `Name`: a name or label that tells one record from another in a list (a person's, a
  facility's, an employer's, a document's title): a `Line` without the invisible Unicode
  bidirectional controls (embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069, marks
  U+200E, U+200F, U+061C). With them one name can be drawn reversed or as another name reads
  (docs/decisions.md 130); free text keeps them, as right-to-left writing pasted from a word
  processor carries them.

Each is a plain msgspec `pattern` constraint, so the OpenAPI document declares it and clients
and fuzzers see the rule; the body check (`services/api/strict.py`) answers a text field that
breaks it with 422 `invalid_text`, naming the field and the first character it refused (its code
point and Unicode name). Each request field adds its own lengths:
`Annotated[Line, msgspec.Meta(max_length=200)]`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, NamedTuple

import msgspec
from litestar import Response

from services.api.problems import Problem, problem_response

# The characters each rule refuses, as regular-expression classes (ECMA-262 reads them alike).
LINE_REFUSED = r"\x00-\x1F\x7F-\x9F"
TEXT_REFUSED = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F"
BIDI_CONTROLS = r"\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069"
# `$(?!\n)`: the end of the text, in Python's `re` as in ECMA-262 (where `$` alone would let
# Python accept one trailing line break).
LINE_PATTERN = rf"^[^{LINE_REFUSED}]*$(?!\n)"
TEXT_PATTERN = rf"^[^{TEXT_REFUSED}]*$"
NAME_PATTERN = rf"^[^{LINE_REFUSED}{BIDI_CONTROLS}]*$(?!\n)"

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
Name = Annotated[
    str,
    msgspec.Meta(
        pattern=NAME_PATTERN,
        description=(
            "a name on one line: no control character (U+0000-U+001F, U+007F-U+009F) and no"
            " bidirectional control (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)"
        ),
    ),
]


class _Rule(NamedTuple):
    words: str
    refused: re.Pattern[str]


_RULES = {
    f"matching regex {LINE_PATTERN!r}": _Rule(
        "takes one line of text, without control characters", re.compile(f"[{LINE_REFUSED}]")
    ),
    f"matching regex {TEXT_PATTERN!r}": _Rule(
        "takes text without control characters (line breaks and tabs aside)",
        re.compile(f"[{TEXT_REFUSED}]"),
    ),
    f"matching regex {NAME_PATTERN!r}": _Rule(
        "takes a name on one line, without control characters or bidirectional controls"
        " (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)",
        re.compile(f"[{LINE_REFUSED}{BIDI_CONTROLS}]"),
    ),
}
_AT = re.compile(r" - at `\$\.?(?P<key>[^`]*)`$")


def text_rule(message: str) -> str | None:
    """The text rule a validation message says was broken, in words; None for another fault."""
    return next((r.words for m, r in _RULES.items() if m in message), None)


def refused_character(message: str, value: object) -> str:
    """The first character of `value` that the rule `message` names refuses, as a person reads
    it (`U+202E RIGHT-TO-LEFT OVERRIDE`, `U+0000`: control characters have no Unicode name);
    "" when there is none to name."""
    rule = next((r for m, r in _RULES.items() if m in message), None)
    found = rule.refused.search(value) if rule and isinstance(value, str) else None
    if found is None:
        return ""
    char = found.group()
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def holding(rule: str, character: str) -> str:
    """A rule's words and, when known, the character that broke it."""
    return f"{rule}; it holds {character}" if character else rule


def text_problem(
    error: msgspec.ValidationError, values: Mapping[str, object]
) -> Response[Problem] | None:
    """422 `invalid_text` naming the field and the character, when `error` is a text field of
    the flat form `values` breaking its rule."""
    message = str(error)
    rule = text_rule(message)
    if rule is None:
        return None
    at = _AT.search(message)
    key = at.group("key") if at else ""
    character = refused_character(message, values.get(key))
    said = holding(rule, character)
    entry: dict[str, object] = {"message": f"{key} {said}", "key": key, "source": "body"}
    if character:
        entry["character"] = character.split(" ", 1)[0]
    return problem_response(422, "invalid_text", f"{key or 'the body'} {said}", errors=[entry])
