"""Every fault of a request body, not only the first one msgspec stops at.

msgspec raises one `ValidationError` for the first fault it meets, so a body missing four
required fields was refused four times, one field a round trip. On that error (never on the
success path) the body is read again as plain JSON and walked against the request type:
every missing required field, unknown field, wrong-typed value and value outside its
enumeration becomes one entry of the problem's `errors`, each with its body path (`field`,
`held.duration_minutes`, `event_types[0]`) and JSON pointer (`pointer`, RFC 6901). The entry's
`message` is msgspec's own sentence for that fault, `- at `$...`` included (the console says
it with its form's labels, `services/api/console/checks.py`). A value outside an enumeration
also lists the `allowed` values; a schema may add why a value is refused by naming it in its
`msgspec.Meta(extra={"refused": {value: reason}})` (`ping` in webhook event types).
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from litestar import Response

from services.api.problems import Problem, problem_response
from services.api.text import holding, refused_character, text_rule
from services.refusals import clipped

GENERIC = "the request body fails validation"

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")
_ENUM = re.compile(r"^Invalid enum value (?P<v>.*)$")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_BOUND = re.compile(r"^Expected `(int|float|decimal)` [<>]=? ")
_BOUND_KEYS = ("ge", "gt", "le", "lt")


@dataclass
class Fault:
    """One fault of a body: msgspec's sentence and where it is (`$`-relative, `.a[0].b`)."""

    reason: str  # msgspec's sentence, without its `- at` suffix
    at: str  # the path of the object or value the sentence is about
    allowed: list[Any] | None = None
    refused: dict[str, str] = field(default_factory=dict)
    # The declared range of a number out of it (msgspec names only the bound it broke).
    bounds: dict[str, Any] = field(default_factory=dict)
    # The first character a text rule refused (`U+202E RIGHT-TO-LEFT OVERRIDE`), "" for others.
    character: str = ""

    @property
    def field(self) -> str:
        """The body path of the field at fault (for a missing or unknown field, that field)."""
        named = _MISSING.match(self.reason) or _UNKNOWN.match(self.reason)
        path = self.at + (f".{named.group('name')}" if named else "")
        return path.lstrip(".")

    @property
    def pointer(self) -> str:
        """The field as a JSON pointer (`held.topics[0]` as `/held/topics/0`)."""
        steps = (m.group(1) or m.group(2) for m in _STEP.finditer(self.field))
        return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in steps)

    @property
    def message(self) -> str:
        return f"{clipped(self.reason)} - at `${self.at}`"

    def sentence(self) -> str:
        """The fault for a person reading `detail`."""
        rule = text_rule(self.reason)
        if rule is not None:
            return f"{self.field} {holding(rule, self.character)}"
        if _UNKNOWN.match(self.reason):
            return f"{self.field}: no such field"
        if self.bounds:
            return f"{self.field}: out of range; it takes a number {range_words(self.bounds)}"
        value = _ENUM.match(self.reason)
        if self.allowed is None or value is None:
            return f"{self.field or 'the body'}: {clipped(self.reason)}"
        allowed = ", ".join(str(v) for v in self.allowed)
        said = f"{self.field}: {clipped(self.reason).removeprefix('Invalid enum value ')}"
        said += f" is not one of the allowed values ({allowed})"
        why = self.refused.get(value.group("v").strip("'"))
        return f"{said}; {why}" if why else said


def range_words(bounds: dict[str, Any]) -> str:
    """`{"gt": 0, "le": 80}` as "more than 0 and at most 80", `{"ge": 1, "le": 5}` as
    "from 1 to 5"."""
    if "ge" in bounds and "le" in bounds:
        return f"from {bounds['ge']} to {bounds['le']}"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    return " and ".join(f"{words[k]} {bounds[k]}" for k in _BOUND_KEYS if k in bounds)


def _split(error: str) -> tuple[str, str]:
    found = _AT.search(error)
    return (error[: found.start()], found.group("path")) if found else (error, "")


def _unwrapped(tp: Any) -> tuple[Any, dict[str, Any]]:
    """`tp` without `Annotated` and `| None`, and the `extra` of its `msgspec.Meta`s (with
    its numeric bounds under `bounds`)."""
    extra: dict[str, Any] = {}
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            base, *metas = typing.get_args(tp)
            for meta in metas:
                if isinstance(meta, msgspec.Meta) and meta.extra:
                    extra.update(meta.extra)
                if isinstance(meta, msgspec.Meta):
                    found = {k: getattr(meta, k) for k in _BOUND_KEYS}
                    extra.setdefault("bounds", {}).update(
                        {k: v for k, v in found.items() if v is not None}
                    )
            tp = base
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, extra
            tp = args[0]
        else:
            return tp, extra


def _allowed(tp: Any) -> list[Any] | None:
    if typing.get_origin(tp) is Literal:
        return list(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp]
    return None


def _walk(tp: Any, value: Any, at: str) -> Iterator[Fault]:
    if _unwrapped(tp)[0] is msgspec.Raw:
        # Any JSON value is raw (decoded later, by whatever it turns out to be); `convert`
        # cannot make one from a Python value, which is no fault of the body.
        return
    try:
        msgspec.convert(value, type=tp, strict=True)
        return
    except msgspec.ValidationError as e:
        first = e
    base, extra = _unwrapped(tp)
    found = False
    if isinstance(base, type) and issubclass(base, msgspec.Struct) and isinstance(value, dict):
        for faults in _struct(base, value, at):
            found = True
            yield faults
    elif typing.get_origin(base) in (list, set, frozenset) and isinstance(value, list):
        (item,) = typing.get_args(base)[:1] or (Any,)
        for i, v in enumerate(value):
            for fault in _walk(item, v, f"{at}[{i}]"):
                found = True
                yield fault
    if not found:
        reason, inner = _split(str(first))
        allowed = _allowed(base) if reason.startswith("Invalid enum value") and not inner else None
        bounds = dict(extra.get("bounds", {})) if _BOUND.match(reason) and not inner else {}
        # A text rule's fault is about `value` itself (a string has nothing inside).
        character = refused_character(reason, value) if not inner else ""
        yield Fault(reason, at + inner, allowed, dict(extra.get("refused", {})), bounds, character)


def _struct(tp: type[msgspec.Struct], value: dict[str, Any], at: str) -> Iterator[Fault]:
    info = msgspec.structs.fields(tp)
    known = set()
    for f in info:
        known.add(f.encode_name)
        if f.encode_name in value:
            yield from _walk(f.type, value[f.encode_name], f"{at}.{f.encode_name}")
        elif f.required:
            yield Fault(f"Object missing required field `{f.encode_name}`", at)
    if tp.__struct_config__.forbid_unknown_fields:
        for name in value:
            if name not in known:
                yield Fault(f"Object contains unknown field `{name}`", at)


def body_faults(raw: bytes, target: Any, error: msgspec.ValidationError) -> list[Fault]:
    """Every fault of the body `raw` against `target`; at least the one msgspec reported."""
    try:
        plain = msgspec.json.decode(raw or b"null")
    except (msgspec.DecodeError, RecursionError):
        plain = None
    faults = list(_walk(target, plain, ""))
    if not faults:
        faults = [Fault(*_split(str(error)))]
    return faults


def _entry(fault: Fault) -> dict[str, Any]:
    rule = text_rule(fault.reason)
    entry: dict[str, Any] = {
        "message": fault.message if rule is None else fault.sentence(),
        "key": "data" if rule is None else fault.field,
        "source": "body",
        "field": fault.field,
        "pointer": fault.pointer,
    }
    if fault.character:
        entry["character"] = fault.character.split(" ", 1)[0]
    if fault.allowed is not None:
        entry["allowed"] = fault.allowed
    low = fault.bounds.get("ge", fault.bounds.get("gt"))
    high = fault.bounds.get("le", fault.bounds.get("lt"))
    if low is not None:
        entry["minimum"] = low
    if high is not None:
        entry["maximum"] = high
    return entry


def invalid_body(
    raw: bytes, target: Any, error: msgspec.ValidationError
) -> tuple[int, str, str, list[dict[str, Any]]]:
    """The problem for a body that fails validation: (status, code, detail, errors).

    Text that breaks only its text rule is 422 `invalid_text` (services/api/text.py); any other
    fault makes it 400 `invalid_request`. Either way every fault is listed."""
    faults = body_faults(raw, target, error)
    errors = [_entry(f) for f in faults]
    if all(text_rule(f.reason) is not None for f in faults):
        return 422, "invalid_text", "; ".join(f.sentence() for f in faults), errors
    missing = [f.field for f in faults if _MISSING.match(f.reason)]
    said = [f.sentence() for f in faults if not _MISSING.match(f.reason)]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        said.insert(0, f"missing required field{plural}: {', '.join(missing)}")
    return 400, "invalid_request", f"{GENERIC}: {'; '.join(said)}", errors


def invalid_body_response(
    raw: bytes, target: Any, error: msgspec.ValidationError
) -> Response[Problem]:
    status, code, detail, errors = invalid_body(raw, target, error)
    return problem_response(status, code, detail, errors=errors)
