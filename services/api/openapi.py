"""Completes the OpenAPI document: every operation lists the problems it can answer with, and
every request body carries an example.

Handlers document their own rule refusals (`responses=problems(...)`) and hand-written
examples where they matter most; this fills in the rest from the document itself, so no
operation is left without them: 400 `invalid_request` for bodies and parameters, 401, 403,
404 `grantee_not_found` for grantee routes, 503 `database_unavailable` everywhere, and an
example body synthesised from the request schema (its field examples, enums, formats, bounds).

It also moves the constraints Litestar writes beside the `oneOf` of an optional field (`str |
None` with a pattern, `int | None` with bounds) into the branch they constrain, so that every
tool reads them where it looks for them; and `StrictStructs` declares what a Struct with
`forbid_unknown_fields` refuses (`additionalProperties: false`), which Litestar leaves out.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Litestar exports its Struct plugin from a private module only (pinned by uv.lock).
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Example, OpenAPI, OpenAPIType, Operation, Reference, Schema
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import OpenAPIResponse as Response

from domain.daterange import YEAR_PATTERN
from services.api.enum_names import name_enum_members
from services.api.problems import PROBLEM_JSON, TITLES, Problem, problem_type
from services.api.text import LINE_PATTERN

_FORMAT_EXAMPLES = {
    "uuid": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "date": "2026-11-02",
    "date-time": "2026-11-02T18:00:00-06:00",
    "time": "18:00:00",
    "email": "coordinator@example.org",
    "uri": "https://example.org",
}


# msgspec's bound -> the Schema attribute; Litestar drops a bound of 0 on an optional field
# (it tests the value for truth), so `percent: Percent | None` lost its `minimum: 0`.
_BOUNDS = {
    "ge": "minimum",
    "gt": "exclusive_minimum",
    "le": "maximum",
    "lt": "exclusive_maximum",
}


class StrictStructs(StructSchemaPlugin):
    """Litestar's schema of a msgspec Struct, plus `additionalProperties: false` where the
    Struct refuses unknown fields (every request body): the document says what a body may not
    hold, so clients and fuzzers do not send fields that can only be refused. Also puts back
    the bounds of 0 Litestar leaves out of optional numeric fields."""

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            kinds = [
                t.type if isinstance(t, msgspec.inspect.Metadata) else t
                for t in (
                    field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else ()
                )
            ]
            numbers = [
                t
                for t in kinds
                if isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType)
            ]
            if not isinstance(prop, Schema) or len(numbers) != 1:
                continue
            for bound, name in _BOUNDS.items():
                if getattr(numbers[0], bound) == 0 and getattr(prop, name) is None:
                    setattr(prop, name, 0)
        return schema


def problem(status: int, code: str, detail: str) -> Response:
    value = msgspec.to_builtins(
        Problem(
            type=problem_type(code),
            title=TITLES.get(status, "Error"),
            status=status,
            detail=detail,
            code=code,
        )
    )
    return Response(
        description=TITLES.get(status, "Error"),
        content={
            PROBLEM_JSON: MediaType(
                schema=Reference("#/components/schemas/Problem"),
                examples={code: Example(summary=detail, value=value)},
            )
        },
    )


def _common(path: str, method: str, has_body: bool) -> dict[str, Response]:
    out = {
        "503": problem(503, "database_unavailable", "the database is unavailable; retry shortly")
    }
    if path.startswith("/v1/"):
        out["401"] = problem(401, "not_authenticated", "a bearer token is required")
        out["403"] = problem(403, "forbidden", "your role does not permit this action")
        out["400"] = problem(
            400,
            "invalid_request",
            "the request body fails validation"
            if has_body
            else "a query or path parameter is invalid",
        )
    if path.startswith("/v1/grantees/{grantee}"):
        out["404"] = problem(404, "grantee_not_found", "no grantee 'northside_works'")
    return out


class Examples:
    def __init__(self, spec: OpenAPI) -> None:
        schemas = spec.components.schemas if spec.components and spec.components.schemas else {}
        self.schemas = {name: msgspec.to_builtins(s.to_schema()) for name, s in schemas.items()}

    def of(self, schema: dict[str, Any], depth: int = 0) -> Any:
        if depth > 14:
            return None
        if "$ref" in schema:
            return self.of(self.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {}), depth + 1)
        if schema.get("examples"):
            return schema["examples"][0]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("oneOf", "anyOf"):
            if key in schema:
                options = [o for o in schema[key] if o.get("type") != "null"]
                if key == "oneOf" and any(o.get("type") == "number" for o in options):
                    # An integer is a number too: only a fraction matches exactly one branch.
                    options = [o for o in options if o.get("type") == "number"]
                return self.of(options[0], depth + 1) if options else None
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = set(schema.get("required", props))
            return {name: self.of(p, depth + 1) for name, p in props.items() if name in required}
        if kind == "array":
            item = self.of(schema.get("items", {}), depth + 1)
            return [] if item is None else [item]
        if kind == "integer":
            return int(
                schema.get(
                    "minimum",
                    schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1,
                )
            )
        if kind == "number":
            return float(schema.get("minimum", 1.5))
        if kind == "boolean":
            return True
        if kind == "string":
            return _FORMAT_EXAMPLES.get(schema.get("format", ""), "text")
        return None


# The accepted dates (domain/daterange.py), declared on every date and date-time of the
# document: a value outside is refused with 400 `date_out_of_range` (decision 24: declared
# before refused). The offset of a date-time is left to its format.
_DATED = {
    "date": f"^{YEAR_PATTERN}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "date-time": f"^{YEAR_PATTERN}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]",
}

# The constraints of each kind of value, as `Schema` attributes.
_CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "string": ("pattern", "min_length", "max_length", "format"),
    "integer": ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "multiple_of"),
    "array": ("min_items", "max_items", "unique_items"),
}
_CONSTRAINTS["number"] = _CONSTRAINTS["integer"]


def _type_of(schema: Schema) -> str | None:
    kind = schema.type
    return kind.value if isinstance(kind, OpenAPIType) else None


def _constraints_into_branches(schema: Any, seen: set[int]) -> None:
    """Recursively: a constraint beside `oneOf`/`anyOf` moves into the branches of its kind."""
    if not isinstance(schema, Schema) or id(schema) in seen:
        return
    seen.add(id(schema))
    if schema.format is not None and schema.pattern is None:
        schema.pattern = _DATED.get(schema.format.value)
    if schema.one_of:
        types = [_type_of(b) if isinstance(b, Schema) else None for b in schema.one_of]
        if "integer" in types and "number" in types:
            # `int | float`: every integer is a number, so with both branches an integer matches
            # two and `oneOf` refuses it (a figure's integer value failed its own schema).
            schema.one_of = [b for b, k in zip(schema.one_of, types, strict=True) if k != "integer"]
    branches = [b for b in (schema.one_of or schema.any_of or []) if isinstance(b, Schema)]
    for branch in branches:
        names = _CONSTRAINTS.get(_type_of(branch) or "", ())
        for name in names:
            value = getattr(schema, name)
            if value is not None and getattr(branch, name) is None:
                setattr(branch, name, value)
    if branches:
        kinds = {_type_of(b) for b in branches}
        for kind, names in _CONSTRAINTS.items():
            if kind in kinds:
                for name in names:
                    setattr(schema, name, None)
    children = [
        *(schema.one_of or []),
        *(schema.any_of or []),
        *(schema.all_of or []),
        *(schema.properties or {}).values(),
        schema.items,
        schema.additional_properties,
    ]
    for child in children:
        _constraints_into_branches(child, seen)


def _one_line(schema: Any) -> None:
    """A text parameter without a form of its own declares the one-line rule every parameter
    is held to (400 `invalid_parameter`, services/api/parameters.py): declared before refused."""
    if not isinstance(schema, Schema):
        return
    for branch in schema.one_of or schema.any_of or []:
        _one_line(branch)
    if (
        _type_of(schema) == "string"
        and schema.pattern is None
        and schema.enum is None
        and schema.format is None
        and schema.const is None
    ):
        schema.pattern = LINE_PATTERN


def complete(spec: OpenAPI) -> None:
    from services.webhooks.payloads import add_webhooks

    # Messages sent to RRC systems (OpenAPI 3.1 `webhooks`), documented with examples.
    add_webhooks(spec)
    # Members of enumerations whose values differ only by case or punctuation get names.
    name_enum_members(spec)
    seen: set[int] = set()
    for schema in (spec.components.schemas or {}).values() if spec.components else ():
        _constraints_into_branches(schema, seen)
    examples = Examples(spec)
    for path, item in (spec.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            op: Operation | None = getattr(item, method, None)
            if op is None:
                continue
            body = op.request_body
            media = None
            if body is not None and not isinstance(body, Reference):
                media = (body.content or {}).get("application/json")
            if media is not None and not media.examples and media.schema is not None:
                schema = (
                    msgspec.to_builtins(media.schema.to_schema())
                    if hasattr(media.schema, "to_schema")
                    else {}
                )
                if not (isinstance(schema, dict) and schema.get("examples")):
                    media.examples = {
                        "example": Example(summary="an example body", value=examples.of(schema))
                    }
            for parameter in op.parameters or []:
                _constraints_into_branches(getattr(parameter, "schema", None), seen)
                _one_line(getattr(parameter, "schema", None))
            if media is not None:
                _constraints_into_branches(media.schema, seen)
            responses = dict(op.responses or {})
            for status, response in _common(path, method, media is not None).items():
                present = responses.get(status)
                # Litestar's own 400 entry describes its default error body; ours is a problem.
                if present is None or PROBLEM_JSON not in (getattr(present, "content", None) or {}):
                    responses[status] = response
            op.responses = responses
