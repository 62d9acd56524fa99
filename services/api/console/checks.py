"""A form's fields in plain words: what the console checks itself before it calls the API, and
the API's validation problems said with the form's labels.

The console decides no rule (decision 70), but whether a box holds a whole number or a date and
time is a question of reading the form, not a rule: it is asked here, before any call, and the
answer names the field by the label the person sees ("Minutes must be a whole number"). What the
API still refuses as invalid comes back as its problem document, whose `errors` carry a body path
(`$.held.duration_minutes`, or a key such as `held.summary`); `in_words` turns each into a
sentence naming the form's label for that path, and never says one sentence twice.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_WHOLE = re.compile(r"[+-]?[0-9]+")
# A number as a person types it: digits, perhaps a point and more digits. Never `nan`, `inf` or
# an exponent, which float() would read.
_DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_AT = re.compile(r"\s*-\s*at\s*`\$\.?(?P<path>[^`]*)`\s*$")
_INDEX = re.compile(r"\[\d+\]")
# The validator's words for a value of the wrong kind, in the words a person reads.
_REASONS = [
    (re.compile(r"^Expected `int`.*?>= (\d+)"), "must be {0} or more"),
    (re.compile(r"^Expected `int`.*?<= (\d+)"), "must be {0} or less"),
    # A number with a fraction (hours a week): its bound without a trailing ".0".
    (re.compile(r"^Expected `float`.*?<= (\d+(?:\.\d*[1-9])?)"), "must be {0} or less"),
    (re.compile(r"^Expected `float`.*?>= (\d+(?:\.\d*[1-9])?)"), "must be {0} or more"),
    (re.compile(r"^Expected `float`.*?> (\d+(?:\.\d*[1-9])?)"), "must be more than {0}"),
    (re.compile(r"^Expected `(int|float)`"), "must be a whole number"),
    (re.compile(r"RFC3339 encoded datetime"), ": enter a date and time"),
    (re.compile(r"ISO8601 encoded date"), ": enter a date"),
    (re.compile(r"^Expected `str`.*length <= (\d+)"), "must be at most {0} characters"),
    (re.compile(r"^Expected `str`.*length >= (\d+)"), "must not be empty"),
    (re.compile(r"^Invalid enum value"), ": choose one of the options"),
    (re.compile(r"^Object missing required field `(\w+)`"), "{0}"),
    (re.compile(r"^Invalid UUID"), ": choose one of the options"),
]
GENERIC = "the request body fails validation"

# The API's patterns (`msgspec.Meta(pattern=...)`), each in the words a person reads: a value
# that does not match is said this way, never as the pattern. The console talks to the API over
# HTTP and so keeps the patterns' text here; a pattern not listed is said as `UNMATCHED`.
_CONTROL = r"\x00-\x1F\x7F-\x9F"
# A control character, as the API's query and path parameters refuse it (services/api/
# parameters.py): a search box's words holding one are refused by the console beside the box.
CONTROL_CHARACTER = re.compile(f"[{_CONTROL}]")
_PATTERNS = {
    r"^[0-9]{5}-[0-9]{3}$": ": write it as five digits, a dash and three digits, like 12345-678",
    r"^[A-Z0-9]{1,12}$": ": use up to 12 capital letters and digits, no spaces",
    r"^\+?[0-9 ().-]{7,25}$": (
        ": enter a phone number of 7 to 25 digits, spaces, dashes, dots or brackets, a + first"
        " for another country, like +1 312 555 0142"
    ),
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": ": enter an email address, like name@example.org",
    r"^[A-Z0-9][A-Z0-9-]{1,15}$": (
        ": choose one of the options (a code of 2 to 16 capital letters, digits and dashes,"
        " like FCI-ELK)"
    ),
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$(?![\n])": ": enter a time of day, like 09:00",
    rf"^[^{_CONTROL}]*$(?!\n)": ": write it on one line, without control characters",
    r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$": ": remove the control characters",
    rf"^[^{_CONTROL}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$(?!\n)": (
        ": write it on one line, without control characters or text-direction marks"
    ),
}
UNMATCHED = ": this is not written in the form the box takes; check what you typed"
_MATCHING = re.compile(r"^Expected `str` matching regex (?P<quoted>'.*'|\".*\")")


def _pattern_words(message: str) -> str | None:
    """A `matching regex` refusal in words (the pattern's own, else `UNMATCHED`); None for
    any other message."""
    found = _MATCHING.match(message)
    if not found:
        return None
    try:
        pattern = ast.literal_eval(found.group("quoted"))
    except (SyntaxError, ValueError):
        return UNMATCHED
    return _PATTERNS.get(str(pattern), UNMATCHED)


def _words(path: str) -> str:
    last = _INDEX.sub("", path).rsplit(".", 1)[-1]
    return last.replace("_", " ").capitalize() or "The form"


def label_of(path: str, labels: Mapping[str, str]) -> str:
    """The form's label for an API body path (`held.topics[0]` as `held.topics`), else the
    path's last name in words."""
    plain = _INDEX.sub("", path.strip().lstrip("$").lstrip("."))
    return labels.get(plain) or labels.get(plain.rsplit(".", 1)[-1]) or _words(plain)


def sentence(error: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """One validation error as a sentence naming the field by its label."""
    message = str(error.get("message", "")).strip()
    key = str(error.get("key", "") or "")
    at = _AT.search(message)
    if at:
        path, message = at.group("path"), message[: at.start()].strip()
    else:
        path = "" if key in ("data", "body") else key
    missing = re.match(r"^Object missing required field `(\w+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return f"{label_of(path, labels)}: fill this in"
    if not path:
        return message
    label = label_of(path, labels)
    if message.startswith(path + " "):
        # The API's own sentence begins with the path (`held.summary takes text ...`).
        return f"{label} {message[len(path) + 1 :]}"
    plain = _pattern_words(message)
    if plain is not None:
        return f"{label}{plain}"
    for pattern, reason in _REASONS:
        found = pattern.search(message)
        if found:
            said = reason.format(*found.groups())
            return f"{label}{said}" if said.startswith(":") else f"{label} {said}"
    return f"{label}: {message}" if message else label


_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)


def _skipped(wall: datetime, zone: ZoneInfo) -> bool:
    """No instant shows `wall` on the clocks of `zone` (the hour lost when they go forward)."""
    local = wall.replace(tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall


def as_sentence(text: str) -> str:
    """A rule's message (`the time the meeting was held lies in the future`) as a sentence a
    person reads: a capital letter first, a full stop last."""
    text = text.strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def in_words(detail: str, errors: Iterable[Any], labels: Mapping[str, str] | None = None) -> str:
    """A problem's detail and errors as sentences for a person, each said once: a validation
    error names the form's field; the generic "fails validation" gives way to them."""
    said: list[str] = []
    raw: set[str] = set()
    for error in errors:
        if isinstance(error, Mapping):
            raw.add(str(error.get("message", "")).strip())
            text = sentence(error, labels or {})
            if text and text not in said:
                said.append(text)
    if not said:
        return as_sentence(detail)
    repeated = detail in raw or any(detail in s or s in detail for s in said)
    # The API's detail for a refused body begins with GENERIC and repeats its errors.
    if detail and not detail.startswith(GENERIC) and not repeated:
        said.insert(0, detail if not _AT.search(detail) else sentence({"message": detail}, {}))
    return " ".join(as_sentence(s) for s in said)


def field_of(path: str, labels: Mapping[str, str]) -> str:
    """The form field an API body path names (`$.held.topics[0]` as `held.topics`), if the
    form has one."""
    plain = _INDEX.sub("", path.strip().lstrip("$").lstrip("."))
    for name in (plain, plain.rsplit(".", 1)[-1]):
        if name in labels:
            return name
    return ""


def per_field(
    detail: str,
    code: str,
    errors: Iterable[Any],
    labels: Mapping[str, str],
    rules: Mapping[str, str],
) -> dict[str, str]:
    """The refusal's sentences by the form field each is about, to show next to that field: a
    validation error by its body path; a rule's refusal by its code (`rules`: which field each
    of the API's documented rule codes is about). What names no field is not here."""
    found: dict[str, list[str]] = {}
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        message = str(error.get("message", ""))
        at = _AT.search(message)
        path = at.group("path") if at else str(error.get("key", "") or "")
        missing = re.match(r"^Object missing required field `(\w+)`", message)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        name = field_of(path, labels)
        said = as_sentence(sentence(error, labels))
        if name and said not in found.setdefault(name, []):
            found[name].append(said)
    if not found and code in rules:
        found[rules[code]] = [as_sentence(detail)]
    return {name: " ".join(sentences) for name, sentences in found.items()}


class FormCheck:
    """The console's own reading of a form's fields; each problem is a sentence naming the
    field by its label (and, given the field's name, kept by it to show next to the field).
    `problems` empty: the form can go to the API."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.fields: dict[str, str] = {}

    def problem(self, name: str, said: str) -> None:
        self.problems.append(said)
        if name:
            self.fields[name] = as_sentence(said)

    def whole_number(
        self, label: str, value: str, *, required: bool = True, name: str = ""
    ) -> int | None:
        text = value.strip()
        if not text:
            if required:
                self.problem(name, f"{label}: fill this in")
            return None
        if not _WHOLE.fullmatch(text):
            self.problem(name, f"{label} must be a whole number")
            return None
        return int(text)

    def decimal(
        self, label: str, value: str, *, name: str = "", example: str = "1.5", required: bool = True
    ) -> str:
        """A number typed in a box, as the decimal text the API reads (a finite number, sent
        as text or, for a float field, as `float` of it); "" when empty (said, if the box is
        required) or not a number (said, with an example)."""
        text = value.strip()
        if not text:
            if required:
                self.problem(name, f"{label}: fill this in")
            return ""
        if not _DECIMAL.fullmatch(text) or not math.isfinite(float(text)):
            self.problem(name, f"{label}: enter a number, such as {example}")
            return ""
        return text

    def moment(self, label: str, value: str, zone: ZoneInfo, name: str = "") -> str:
        """A `datetime-local` value read in the grantee's zone, as RFC 3339. A wall time the
        clocks skipped (the hour lost when they go forward) is refused: no instant has it, and
        reading it with either offset would record an hour nobody typed. One they repeated
        (the hour gained when they go back) is the first of the two, in the offset before
        the change (docs/console.md)."""
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            self.problem(name, f"{label}: enter a date and time")
            return ""
        if at.tzinfo:
            return at.isoformat()
        if _skipped(at, zone):
            first = at.replace(second=0, microsecond=0)
            while _skipped(first - _MINUTE, zone) and at - first < _DAY:
                first -= _MINUTE
            lost = at.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
            lost -= at.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
            self.problem(
                name,
                f"{label}: {at:%H:%M} on {at:%a %d %b %Y} did not happen in {zone.key} (the"
                f" clocks went forward from {first:%H:%M} to {first + lost:%H:%M}); enter the"
                " time the clock showed",
            )
            return ""
        local = at.replace(tzinfo=zone, fold=0)
        return local.isoformat()

    def day(self, label: str, value: str, name: str = "") -> str:
        """A `date` field's value (YYYY-MM-DD), as the API takes it."""
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            self.problem(name, f"{label}: enter a date")
            return ""

    def text(self) -> str:
        return " ".join(as_sentence(p) for p in self.problems)
