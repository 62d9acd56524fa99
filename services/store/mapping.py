"""Stored-event encoding with msgspec (DESIGN D2).

The library's default mapper walks each event through a JSON transcoder with registered
transcodings; msgspec encodes the event's fields directly and decodes them back into the
declared types (UUID, datetime, date, enums, nested Structs) from the event class's type hints.
A decoder per event class is built once and cached.

Personal fields (services/store/personal.py) are encrypted on the way in with the data key of the
participant they concern (services/store/keys.py) and stored as a versioned envelope in place of the
value: `{"enc": 1, "kid": "<schema>/<participant id>", "n": nonce, "c": ciphertext}` (base64,
AES-GCM, associated data: participant id, topic and field path). On the way out they are
decrypted, or, when the key was destroyed by an erasure, replaced by the erased placeholder.
Events without an envelope (every other event, and events stored before encryption) take the
direct decoding path. The hash chain covers the stored bytes, ciphertext included.

A mapper that knows the grantee's time zone reads an event recording a plain day as that day's
start in the zone when the event was stored as the day's UTC midnight, as every event was
before decision 95 (domain/plaindays.py): old and new events read the same, and the stored
bytes stay as they were.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import typing
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import tzinfo
from functools import cache
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import sql

from domain.plaindays import as_recorded
from services.store import keys
from services.store.eventstore import Insert
from services.store.personal import BY_EVENT, PersonalField

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
    # Fields added after events were first stored decode, when absent, as the class says.
    absent: dict[str, Any] = getattr(cls, "stored_defaults", {})
    fields = [
        (f.name, hints[f.name], absent[f.name]) if f.name in absent else (f.name, hints[f.name])
        for f in dataclasses.fields(cls)
        if f.name not in _COLUMNS and typing.get_origin(hints[f.name]) is not ClassVar
    ]
    struct = msgspec.defstruct(
        f"{cls.__name__}State", fields, forbid_unknown_fields=False, kw_only=True
    )
    return msgspec.json.Decoder(struct)


def _upcasters(cls: type[Any]) -> int:
    return int(getattr(cls, "class_version", 1))


class WriteContext:
    """One save through `LedgerApplication.record`: the aggregates being saved (to find whose
    fields an event holds) and the data keys created for it, inserted with its events."""

    def __init__(
        self,
        schema: str,
        aggregates: dict[UUID, Any],
        load: Callable[[UUID], Any],
        effects: list[Any],
        db: Any,
    ) -> None:
        self.schema = schema
        self.aggregates = aggregates
        self._load = load
        # The save's side effects: the first key created adds one `Insert` of every key the
        # save creates (one statement, decision 64), filled as they are made.
        self._effects = effects
        self._db = db
        self.created: dict[UUID, bytes] = {}
        self._rows: tuple[list[UUID], list[str], list[bytes]] = ([], [], [])

    def _add_key(self, participant_id: UUID, raw: bytes) -> None:
        if not self.created:
            self._effects.append(
                Insert(
                    sql.SQL(
                        "INSERT INTO {}.participant_keys (participant_id, master_key_id,"
                        " wrapped_key) SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[])"
                    )
                    .format(sql.Identifier(self.schema))
                    .as_string(),
                    self._rows,
                )
            )
        self.created[participant_id] = raw
        key_id, wrapped = keys.STORE.ring(self._db).wrap(participant_id, raw)
        self._rows[0].append(participant_id)
        self._rows[1].append(key_id)
        self._rows[2].append(wrapped)

    def aggregate(self, aggregate_id: UUID) -> Any:
        found = self.aggregates.get(aggregate_id)
        if found is None:
            found = self.aggregates[aggregate_id] = self._load(aggregate_id)
        return found

    def key(self, participant_id: UUID, *, new: bool = False) -> AESGCM | None:
        """The participant's key; None once they were erased (nothing personal is kept).
        `new`: the event creates the participant, so no key can exist yet (no look-up)."""
        raw = self.created.get(participant_id)
        if raw is not None:
            return AESGCM(raw)
        if not new:
            try:
                key = keys.STORE.key_for_write(self.schema, participant_id)
            except keys.ParticipantErased:
                return None
            if key is not None:
                return key
        # First personal field of this participant (enrolment; or someone enrolled before
        # encryption): a new key, stored with this save's events.
        raw = keys.new_data_key()
        self._add_key(participant_id, raw)
        return AESGCM(raw)


writing: ContextVar[WriteContext | None] = ContextVar("writing", default=None)

_ENC = b'"enc":1'


def _aad(participant_id: str, topic: str, path: str) -> bytes:
    return f"{participant_id}|{topic}|{path}".encode()


def _parent(raw: dict[str, Any], field: PersonalField) -> dict[str, Any] | None:
    node: Any = raw
    for step in field.steps[:-1]:
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _encrypt(
    schema: str, topic: str, event: Any, state: dict[str, Any], fields: list[PersonalField]
) -> bytes:
    ctx = writing.get()
    if ctx is None or ctx.schema != schema:
        raise RuntimeError(
            f"{topic} holds personal fields: store it through LedgerApplication.record"
        )
    raw: dict[str, Any] = msgspec.json.decode(_encoder.encode(state))
    subjects: dict[Any, UUID | None] = {}
    for field in fields:
        if field.locate not in subjects:
            subjects[field.locate] = field.locate(event, ctx)
        pid = subjects[field.locate]
        parent = _parent(raw, field)
        if pid is None or parent is None:
            continue
        name = field.steps[-1]
        value = parent.get(name)
        if value is None or value == "":
            continue
        # The participant's own first event: their key is made now, never looked up (a look-up
        # would cost a round trip per enrolment and miss every time).
        new = pid == event.originator_id and event.originator_version == 1
        key = ctx.key(pid, new=new)
        if key is None:
            # Written about an erased participant: the text is not kept.
            parent[name] = field.placeholder
            continue
        nonce = os.urandom(keys.NONCE_BYTES)
        sealed = key.encrypt(nonce, _encoder.encode(value), _aad(str(pid), topic, field.path))
        parent[name] = {
            "enc": 1,
            "kid": f"{schema}/{pid}",
            "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(sealed).decode(),
        }
    return _encoder.encode(raw)


# Where an encrypted field names its key: `"kid":"<schema>/<participant id>"`.
_KID = re.compile(rb'"kid":"([^"/]+)/([0-9a-f-]{36})"')


def prefetch_keys(states: Iterable[bytes]) -> None:
    """Load, with one statement per grantee, the keys of every participant whose fields
    `states` hold encrypted, ahead of decoding them one by one (a projector's batch)."""
    wanted: dict[str, set[UUID]] = {}
    for state in states:
        if _ENC in state:
            for schema, pid in _KID.findall(state):
                wanted.setdefault(schema.decode(), set()).add(UUID(pid.decode()))
    for schema, pids in wanted.items():
        keys.STORE.prefetch(schema, pids)


def _decrypt(raw: dict[str, Any], topic: str, fields: list[PersonalField]) -> None:
    for field in fields:
        parent = _parent(raw, field)
        if parent is None:
            continue
        name = field.steps[-1]
        envelope = parent.get(name)
        if not (isinstance(envelope, dict) and envelope.get("enc") == 1):
            continue  # stored before encryption, or empty
        schema, _, pid = str(envelope["kid"]).partition("/")
        key = keys.STORE.key(schema, UUID(pid))
        if key is None:
            parent[name] = field.placeholder
            continue
        try:
            plain = key.decrypt(
                base64.b64decode(envelope["n"]),
                base64.b64decode(envelope["c"]),
                _aad(pid, topic, field.path),
            )
        except InvalidTag:
            raise keys.KeyUnavailable(
                f"{topic} {field.path}: the ciphertext does not decrypt under its key"
            ) from None
        parent[name] = msgspec.json.decode(plain)


class MsgspecMapper(Mapper[UUID]):
    """`schema`: the log this mapper stores events into; personal fields are encrypted only
    then (a mapper without one, e.g. a projector's, only reads). `zone`: the grantee's time
    zone, in which its plain days are read (None: instants as stored)."""

    def __init__(self, schema: str | None = None, zone: tzinfo | None = None) -> None:
        super().__init__(transcoder=_NoTranscoder())
        self.schema = schema
        self.zone = zone

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        version = _upcasters(type(domain_event))
        if version > 1:
            state["class_version"] = version
        topic = get_topic(type(domain_event))
        fields = BY_EVENT.get(type(domain_event)) if self.schema else None
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=(
                _encrypt(self.schema, topic, domain_event, state, fields)
                if fields and self.schema
                else _encoder.encode(state)
            ),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.decode(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
            self.zone,
        )

    def decode(
        self,
        topic: str,
        originator_id: Any,
        originator_version: int,
        state: bytes,
        zone: tzinfo | None = None,
    ) -> DomainEventProtocol[UUID]:
        """The domain event of one stored row (what `to_domain_event` does, without building a
        `StoredEvent` first: projectors decode every row of a log through here), its plain day
        read in `zone` (the grantee's time zone; None: as stored)."""
        shape = _shape_of(topic)
        old = shape.version > 1 and shape.current not in state
        if old or (shape.fields is not None and _ENC in state):
            # Ciphertext, or an old stored shape: decrypt and upcast as plain data first, then
            # decode with the types.
            raw: dict[str, Any] = msgspec.json.decode(state)
            if shape.fields is not None:
                _decrypt(raw, topic, shape.fields)
            from_version = raw.pop("class_version", 1)
            while from_version < shape.version:
                getattr(shape.cls, f"upcast_v{from_version}_v{from_version + 1}")(raw)
                from_version += 1
            decoded = msgspec.convert(raw, shape.decoder.type, strict=False)
        else:
            decoded = shape.decoder.decode(state)
        values = msgspec.structs.asdict(decoded)
        values["originator_id"] = (
            originator_id if type(originator_id) is UUID else UUID(str(originator_id))
        )
        values["originator_version"] = originator_version
        event = object.__new__(shape.cls)
        object.__setattr__(event, "__dict__", values)
        if shape.plain_day and zone is not None:
            day = event.plain_day()
            if day is not None:
                values["occurred_at"] = as_recorded(values["occurred_at"], day, zone)
        return event  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class _Shape:
    """What decoding the events of one topic needs, looked up once per topic."""

    cls: type[Any]
    version: int
    fields: list[PersonalField] | None
    decoder: msgspec.json.Decoder[Any]
    # Whether the event records a plain day (it names it: `plain_day()`, domain/plaindays.py).
    plain_day: bool
    # How a state of the current version marks itself (older ones are upcast first).
    current: bytes


@cache
def _shape_of(topic: str) -> _Shape:
    cls = resolve_topic(topic)
    version = _upcasters(cls)
    return _Shape(
        cls,
        version,
        BY_EVENT.get(cls),
        _decoder_for(cls),
        hasattr(cls, "plain_day"),
        b'"class_version":%d' % version,
    )
