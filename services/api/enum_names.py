"""Names for the members of the document's enumerations whose values differ only by case or
punctuation (`Etc/GMT+1` and `Etc/GMT-1`, `GMT0` and `GMT-0`), as `x-enum-varnames`.

A client generator names an enumeration's members after their values, dropping what is not a
letter or a digit; such values then get the same name, and `openapi-python-client` with its
default configuration refuses the whole document (docs/api.md, "Generating a client"). The
names given here are distinct identifiers in capitals that keep the sign: `ETC_GMT_PLUS_1`,
`ETC_GMT_MINUS_1`, `GMT0`, `GMT_MINUS_0`. Enumerations whose values do not collide are left as
they are, so their generated names do not change.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from litestar.openapi.spec import OpenAPI, Schema

_SIGNS = (("+", "_PLUS_"), ("-", "_MINUS_"))


@dataclasses.dataclass
class NamedEnumSchema(Schema):
    """A schema whose enumeration carries the names of its members."""

    enum_varnames: list[str] | None = dataclasses.field(
        default=None, metadata={"alias": "x-enum-varnames"}
    )


def _fold(value: str) -> str:
    return re.sub(r"[^0-9a-z]", "", value.lower())


def collide(values: list[Any]) -> bool:
    """Whether two of these string values differ only by case or punctuation."""
    if not all(isinstance(v, str) for v in values):
        return False
    folded = [_fold(v) for v in values]
    return len(set(folded)) < len(folded)


def member_name(value: str) -> str:
    """An identifier for `value`: its letters and digits in capitals, words joined by `_`, a
    sign before a digit spelt out."""
    for sign, word in _SIGNS:
        value = re.sub(rf"{re.escape(sign)}(?=\d)", word, value)
    name = "_".join(re.findall(r"[A-Za-z0-9]+", value)).upper()
    return name if name[:1].isalpha() else f"VALUE_{name}".rstrip("_")


def member_names(values: list[str]) -> list[str]:
    """Distinct names for `values`, in their order (a repeated name gets `_2`, `_3`, ...)."""
    names: list[str] = []
    taken: set[str] = set()
    for value in values:
        name, n = member_name(value), 1
        while (candidate := name if n == 1 else f"{name}_{n}") in taken:
            n += 1
        names.append(candidate)
        taken.add(candidate)
    return names


def _named(schema: Schema) -> Schema:
    if isinstance(schema, NamedEnumSchema) or not schema.enum or not collide(list(schema.enum)):
        return schema
    values = {f.name: getattr(schema, f.name) for f in dataclasses.fields(Schema)}
    return NamedEnumSchema(**values, enum_varnames=member_names([str(v) for v in schema.enum]))


def _within(node: Any, done: dict[int, Any]) -> Any:
    """`node` with every colliding enumeration beneath it named (a schema is replaced by a
    `NamedEnumSchema`, the same one wherever it is shared; lists and mappings are updated in
    place)."""
    if isinstance(node, list):
        node[:] = [_within(child, done) for child in node]
        return node
    if isinstance(node, dict):
        for key, child in node.items():
            node[key] = _within(child, done)
        return node
    if not isinstance(node, Schema):
        return node
    if id(node) not in done:
        done[id(node)] = node  # a schema that contains itself stops here
        for f in dataclasses.fields(node):
            child = getattr(node, f.name)
            if isinstance(child, (Schema, list, dict)):
                setattr(node, f.name, _within(child, done))
        done[id(node)] = _named(node)
    return done[id(node)]


def name_enum_members(spec: OpenAPI) -> None:
    """Give every colliding enumeration of the document's schemas and parameters its names."""
    done: dict[int, Any] = {}
    if spec.components and spec.components.schemas:
        _within(spec.components.schemas, done)
    for item in (spec.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            op = getattr(item, method, None)
            for parameter in (op.parameters or []) if op is not None else []:
                schema = getattr(parameter, "schema", None)
                if isinstance(schema, Schema):
                    parameter.schema = _within(schema, done)
