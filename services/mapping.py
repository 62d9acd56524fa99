"""Stored-event encoding with msgspec (DESIGN D2).

The library's default mapper walks each event through a JSON transcoder with registered
transcodings; msgspec encodes the event's fields directly and decodes them back into the
declared types (UUID, datetime, date, enums, nested Structs) from the event class's type hints.
A decoder per event class is built once and cached.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

# Kept out of the stored state: the store's own columns.
_COLUMNS = ("originator_id", "originator_version")

_encoder = msgspec.json.Encoder(decimal_format="string", uuid_format="canonical")


class _NoTranscoder(Transcoder):
    """The library wants a transcoder object; encoding is done by the mapper itself."""

    def encode(self, obj: Any) -> bytes:
        return _encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return msgspec.json.decode(data)


@cache
def _decoder_for(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    hints = typing.get_type_hints(cls)
    fields = [
        (f.name, hints[f.name])
        for f in dataclasses.fields(cls)
        if f.name not in _COLUMNS and typing.get_origin(hints[f.name]) is not ClassVar
    ]
    struct = msgspec.defstruct(f"{cls.__name__}State", fields, forbid_unknown_fields=False)
    return msgspec.json.Decoder(struct)


def _upcasters(cls: type[Any]) -> int:
    return int(getattr(cls, "class_version", 1))


class MsgspecMapper(Mapper[UUID]):
    def __init__(self) -> None:
        super().__init__(transcoder=_NoTranscoder())

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        version = _upcasters(type(domain_event))
        if version > 1:
            state["class_version"] = version
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=_encoder.encode(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        version = _upcasters(cls)
        if version > 1:
            # An old stored shape: upcast as plain data first, then decode with the types.
            raw: dict[str, Any] = msgspec.json.decode(stored_event.state)
            from_version = raw.pop("class_version", 1)
            while from_version < version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(raw)
                from_version += 1
            decoded = msgspec.convert(raw, _decoder_for(cls).type, strict=False)
        else:
            decoded = _decoder_for(cls).decode(stored_event.state)
        state = {f: getattr(decoded, f) for f in decoded.__struct_fields__}
        originator_id = stored_event.originator_id
        state["originator_id"] = (
            originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        )
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return typing.cast(DomainEventProtocol[UUID], event)
