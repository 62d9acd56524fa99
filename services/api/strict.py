"""Request bodies are decoded strictly: declared JSON, UTF-8, and `"2"` is not the number 2.

Litestar converts a body into the handler's msgspec Struct with `strict=False`, which coerces
strings to numbers and booleans. Clients of a case-management system must not get that
leniency: a mistyped field is a 400 `invalid_request`, as any other wrong type. A refused body
names every fault, not only the first (`services/api/body_errors.py`). This hook decodes
the body into the same Struct with `strict=True` before the handler runs. Before that it refuses
a body whose `Content-Type` is not JSON (415: Litestar would parse a `text/plain` body as JSON all
the same) and one that is not UTF-8 (RFC 8259 §8.1; msgspec does not check the bytes of a string
it skips, and a string it keeps made the handler fail with a 500). Malformed JSON is a 400 saying
where it broke: line, column and byte.

The strictly decoded Struct is what the handler receives: the body is decoded once per request.
"""

from __future__ import annotations

import json
import re
from types import NoneType
from typing import Any, get_args

import msgspec
from litestar import Request, Response
from litestar.enums import RequestEncodingType

from services.api.body_errors import invalid_body_response
from services.api.dates import body_problem
from services.api.problems import Problem, problem_response
from services.api.text import text_problem
from services.refusals import shown

_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
# msgspec decodes nested arrays and objects recursively and raises RecursionError (not a
# DecodeError) some hundreds of levels down: 2 KB of `[` reach it. No body of this API nests
# more than a few levels, so such a body is refused in words, never a 500.
NESTED = "the body's JSON is nested too deeply (arrays or objects hundreds of levels deep)"
_BYTE = re.compile(r"\s*\(byte (\d+)\)")


def is_json(content_type: str) -> bool:
    """`application/json` or a `+json` type (`application/merge-patch+json`), parameters aside."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def strict_body(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    field = request.route_handler.parsed_data_field
    if request.method not in _BODY_METHODS or field is None:
        return None
    content_type = request.headers.get("content-type", "")
    sent = shown(content_type) if content_type else "without a type"
    if getattr(field.kwarg_definition, "media_type", None) == RequestEncodingType.MULTI_PART:
        # A form with a file (a document upload): its text fields follow the text rules.
        if content_type.split(";", 1)[0].strip().lower() == "multipart/form-data":
            return await _form_text(request, field.annotation)
        return problem_response(
            415,
            "unsupported_media_type",
            f"the body must be sent as multipart/form-data, not {sent}",
        )
    if field.is_optional and not content_type and not (await request.body()).strip():
        # A command whose body may be left out (revoking an API key: an optional reason) is
        # sent without one, like the commands that take none; the handler gets None.
        return None
    if not is_json(content_type):
        return problem_response(
            415,
            "unsupported_media_type",
            f"the body must be sent as application/json, not {sent}",
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return problem_response(
            415,
            "unsupported_media_type",
            f"the body is sent with Content-Encoding {shown(encoding)}, which the service does"
            " not read: send it uncompressed",
        )
    body = await request.body()
    if not body.strip():
        return problem_response(
            400,
            "invalid_request",
            "the body is empty: this operation takes a JSON object (see its example in the"
            " API's documentation)",
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        return problem_response(
            400, "invalid_request", f"the body is not valid UTF-8 (byte {e.start})"
        )
    # An optional body, when sent, is the Struct it would be if it were required.
    [target] = [t for t in get_args(field.annotation) if t is not NoneType] or [field.annotation]
    if not (isinstance(target, type) and issubclass(target, msgspec.Struct)):
        return None
    try:
        decoded = msgspec.json.decode(body or b"null", type=target, strict=True)
    except msgspec.ValidationError as e:
        # msgspec stops at the first value of the wrong type, before any later syntax error:
        # a body that is not JSON at all says so first.
        try:
            msgspec.json.decode(body or b"null")
        except msgspec.DecodeError as malformed:
            return malformed_json(body, malformed)
        except RecursionError:
            return problem_response(400, "invalid_request", NESTED)
        return invalid_body_response(body, target, e)
    except msgspec.DecodeError as e:
        return malformed_json(body, e)
    except RecursionError:
        return problem_response(400, "invalid_request", NESTED)
    twice = _repeated_key(body)
    if twice is not None:
        return problem_response(
            400,
            "invalid_request",
            f"the body gives {shown(twice)} more than once in one object; which was meant"
            " cannot be known, so send each name once",
            errors=[{"message": "name given more than once", "key": twice, "source": "body"}],
        )
    problem = body_problem(decoded)
    if problem is not None:
        return problem
    # The body is decoded once: Litestar's `request.json()` returns what is cached on the
    # connection, and converting a Struct into its own type hands the same object back.
    request._connection_state.json = decoded
    return None


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Repeated(key)
        out[key] = value
    return out


def _repeated_key(body: bytes) -> str | None:
    """The first name an object of `body` (valid JSON) gives twice. msgspec, like most
    decoders, keeps the last silently: `{"first_name": "Ann", "first_name": "Bob"}` enrolled
    Bob while a proxy or a log that keeps the first read Ann. About 5 µs for a command's body."""
    try:
        json.loads(body, object_pairs_hook=_once)
    except _Repeated as e:
        return e.key
    except (ValueError, RecursionError):
        return None  # not for this check to say
    return None


def malformed_json(body: bytes, error: msgspec.DecodeError) -> Response[Problem]:
    """400 `invalid_request` saying where the JSON broke: line, column (in characters) and byte.
    A body cut short breaks at its end."""
    message = str(error)
    at = _BYTE.search(message)
    offset = int(at.group(1)) if at else len(body)
    reason = _BYTE.sub("", message).removeprefix("JSON is malformed: ").strip() or "malformed"
    if reason == "trailing characters":
        offset -= 1  # msgspec counts past the first of them
    line_start = body.rfind(b"\n", 0, offset) + 1
    line = body.count(b"\n", 0, offset) + 1
    column = len(body[line_start:offset].decode("utf-8", errors="replace")) + 1
    where = f"line {line}, column {column} (byte {offset})"
    return problem_response(
        400,
        "invalid_request",
        f"the body is not valid JSON: {reason[:1].lower()}{reason[1:]} at {where}",
        errors=[
            {
                "message": f"{reason} at {where}",
                "key": "data",
                "source": "body",
                "line": line,
                "column": column,
                "byte": offset,
            }
        ],
    )


async def _form_text(request: Request[Any, Any, Any], target: Any) -> Response[Problem] | None:
    """422 `invalid_text` for a text field of a form that breaks its rule (as for JSON);
    anything else about the form is left to Litestar's own validation."""
    try:
        form = await request.form()
    except UnicodeDecodeError as e:
        # Litestar reads a part without a file name as text.
        return problem_response(
            400,
            "invalid_request",
            f"a form field is not valid UTF-8 (byte {e.start}); send a file with a file name",
        )
    texts = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        msgspec.convert(texts, type=target, strict=True)
    except msgspec.ValidationError as e:
        return text_problem(e, texts)
    return None
