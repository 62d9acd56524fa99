"""Per-participant data keys (DESIGN D8): the key hierarchy behind crypto-shredding.

Two levels. A participant's *data key* (256-bit AES-GCM) encrypts that participant's personal
fields inside the stored events (services/store/personal.py, services/store/mapping.py). It is created in
the transaction of the participant's `Enrolled` event and kept in `g_<slug>.participant_keys`
only *wrapped*: encrypted with AES-GCM under the platform's *master key*, with the participant
id as associated data, so a row copied onto another participant does not unwrap. The master
key never enters the database: `PROWD_MASTER_KEY` (base64 of 32 bytes) or
`PROWD_MASTER_KEY_FILE`, generated into the data directory in development and required in
production. Its id (`mk-` and 16 hex digits of a SHA-256 over it) is stored with every row,
so during a rotation the service unwraps with whichever master key a row names
(`PROWD_MASTER_KEY_PREVIOUS` holds the old ones) while `rotate` re-wraps the rows in batches.

Erasure destroys the data key: the row keeps its id, `destroyed_at`, who and why, and loses
the wrapped key. The ciphertext in the log stays as it was (the hash chain is over it) but can
no longer be read by anyone; decoding yields the erased placeholders instead.

Unwrapped keys are cached per process (bounded LRU, `KeyStore`). The erasing process evicts
its entry at once; another process notices within `PROWD_KEY_CACHE_SECONDS` (30 s): a cached
entry older than that is checked against the table again before it is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import psycopg.errors
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock
from services.settings import Settings, create_once

KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_AAD = b"prowd-data-key:"


class KeyDatabase(Protocol):
    """What the key store needs of a database (`services.store.database.Database`, which
    attaches itself here when it opens: this module does not import it)."""

    def fetchall(self, query: Any, params: Any = None) -> list[TupleRow]: ...

    def transaction(self) -> AbstractContextManager[Cursor[TupleRow]]: ...


class KeyUnavailable(Exception):
    """A participant key cannot be found or unwrapped (misconfiguration, not erasure)."""


class ParticipantErased(Exception):
    """The participant's key is destroyed: nothing personal can be encrypted for them again
    (the mapper stores the erased placeholder instead)."""


def master_key_id(raw: bytes) -> str:
    return "mk-" + hashlib.sha256(b"prowd-master-key:" + raw).hexdigest()[:16]


def decode_master_key(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SystemExit(f"{what} must be base64 (32 bytes)") from None
    if len(raw) != KEY_BYTES:
        raise SystemExit(f"{what} must be base64 of 32 bytes, got {len(raw)} bytes")
    return raw


class KeyRing:
    """The current master key (wraps) and previous ones (still unwrap during a rotation)."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current_id = master_key_id(current)
        self._keys: dict[str, AESGCM] = {master_key_id(k): AESGCM(k) for k in previous}
        self._keys[self.current_id] = AESGCM(current)

    @property
    def ids(self) -> list[str]:
        return sorted(self._keys)

    def wrap(self, participant_id: UUID, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_id].encrypt(
            nonce, data_key, _WRAP_AAD + participant_id.bytes
        )
        return self.current_id, nonce + sealed

    def unwrap(self, key_id: str, participant_id: UUID, wrapped: bytes) -> bytes:
        master = self._keys.get(key_id)
        if master is None:
            raise KeyUnavailable(
                f"participant keys are wrapped by master key {key_id}, which is not configured"
                " (set PROWD_MASTER_KEY_PREVIOUS during a rotation)"
            )
        try:
            return master.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD + participant_id.bytes
            )
        except InvalidTag:
            raise KeyUnavailable(
                f"the key of participant {participant_id} does not unwrap under {key_id}"
            ) from None


def _dev_key_file(path: Path) -> bytes:
    """Read the development master key, creating it atomically if no process has yet."""
    raw = create_once(path, lambda: base64.b64encode(os.urandom(KEY_BYTES)))
    return decode_master_key(raw.decode(), str(path))


def load_keyring(settings: Settings) -> KeyRing:
    """The master keys from the settings (see the module docstring)."""
    if settings.master_key:
        current = decode_master_key(settings.master_key, "PROWD_MASTER_KEY")
    elif settings.master_key_file:
        path = Path(settings.master_key_file)
        if not path.exists():
            raise SystemExit(f"PROWD_MASTER_KEY_FILE {path} does not exist")
        current = decode_master_key(path.read_text(), "PROWD_MASTER_KEY_FILE")
    elif settings.environment == "production":
        raise SystemExit("PROWD_ENV=production needs PROWD_MASTER_KEY or PROWD_MASTER_KEY_FILE")
    else:
        current = _dev_key_file(settings.data_dir / "master-key")
    previous = [
        decode_master_key(v, "PROWD_MASTER_KEY_PREVIOUS")
        for v in settings.master_key_previous.split(",")
        if v.strip()
    ]
    return KeyRing(current, previous)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


# A cached entry: the raw key (None once destroyed) and when it was read from the table.
@dataclass(slots=True)
class _Entry:
    raw: bytes | None
    loaded_at: float

    @property
    def key(self) -> AESGCM | None:
        # Made on use (about 1.5 us): an AESGCM object holds about 2.6 KB of cipher context
        # against 32 bytes of key, so caching objects made a full cache cost some 50 MB per
        # process (found by the soak test, docs/reliability.md).
        return None if self.raw is None else AESGCM(self.raw)


class KeyStore:
    """Unwrapped participant keys of this process, over every attached database."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self.ttl = 30.0
        self._lock = threading.RLock()
        self._attached: list[tuple[KeyDatabase, KeyRing]] = []
        self._home: dict[str, tuple[KeyDatabase, KeyRing]] = {}
        self._cache: OrderedDict[tuple[str, UUID], _Entry] = OrderedDict()
        self._prefetched: dict[str, float] = {}

    # -- databases ------------------------------------------------------------------------
    def attach(self, db: KeyDatabase, ring: KeyRing, ttl: float | None = None) -> None:
        """Let this process find participant keys in `db` (called by `Database.open`)."""
        with self._lock:
            self._attached = [(d, r) for d, r in self._attached if d is not db]
            self._attached.append((db, ring))
            self._home = {s: (d, r) for s, (d, r) in self._home.items() if d is not db}
            if ttl is not None:
                self.ttl = ttl
            self._cache.clear()
            self._prefetched.clear()

    def detach(self, db: KeyDatabase) -> None:
        with self._lock:
            self._attached = [(d, r) for d, r in self._attached if d is not db]
            self._home = {s: (d, r) for s, (d, r) in self._home.items() if d is not db}
            self._cache.clear()
            self._prefetched.clear()

    def ring(self, db: KeyDatabase) -> KeyRing:
        for d, r in self._attached:
            if d is db:
                return r
        raise KeyUnavailable("this database has no master key attached")

    def _candidates(self, schema: str) -> list[tuple[KeyDatabase, KeyRing]]:
        home = self._home.get(schema)
        if home is not None:
            return [home]
        return list(reversed(self._attached))

    # -- the cache ------------------------------------------------------------------------
    def _remember(self, schema: str, pid: UUID, raw: bytes | None, at: float) -> _Entry:
        entry = _Entry(raw, at)
        with self._lock:
            self._cache[(schema, pid)] = entry
            self._cache.move_to_end((schema, pid))
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return entry

    def put(self, schema: str, pid: UUID, raw: bytes) -> None:
        self._remember(schema, pid, raw, time.monotonic())

    def evict(self, schema: str, pid: UUID) -> None:
        with self._lock:
            self._cache.pop((schema, pid), None)

    def _fresh(self, schema: str, pid: UUID) -> _Entry | None:
        with self._lock:
            entry = self._cache.get((schema, pid))
            if entry is None:
                return None
            if time.monotonic() - entry.loaded_at > self.ttl:
                return None
            self._cache.move_to_end((schema, pid))
            return entry

    def _rows(self, schema: str, pid: UUID | None) -> tuple[list[tuple[Any, ...]], KeyRing] | None:
        query = sql.SQL(
            "SELECT participant_id, master_key_id, wrapped_key, destroyed_at IS NOT NULL"
            " FROM {}.participant_keys"
        ).format(sql.Identifier(schema))
        query += sql.SQL(" WHERE participant_id = %s" if pid is not None else " LIMIT %s")
        for db, ring in self._candidates(schema):
            try:
                rows = db.fetchall(query, (pid,) if pid is not None else (self.capacity,))
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
                continue
            with self._lock:
                self._home[schema] = (db, ring)
            return rows, ring
        return None

    def _load(self, schema: str, pid: UUID) -> _Entry | None:
        """Read one key from its table; with a cold cache, every key of the schema at once
        (a rebuild decodes every participant's events: one query instead of one each)."""
        now = time.monotonic()
        bulk = now - self._prefetched.get(schema, -1e9) > self.ttl
        found = self._rows(schema, None if bulk else pid)
        if found is None:
            raise KeyUnavailable(f"no attached database holds {schema}.participant_keys")
        rows, ring = found
        if bulk:
            self._prefetched[schema] = now
        wanted: _Entry | None = None
        for row_pid, key_id, wrapped, destroyed in rows:
            raw = (
                None
                if destroyed or wrapped is None
                else ring.unwrap(key_id, row_pid, bytes(wrapped))
            )
            entry = self._remember(schema, row_pid, raw, now)
            if row_pid == pid:
                wanted = entry
        if wanted is None and bulk and len(rows) >= self.capacity:
            return self._load_one(schema, pid)
        return wanted

    def _load_one(self, schema: str, pid: UUID) -> _Entry | None:
        found = self._rows(schema, pid)
        if found is None or not found[0]:
            return None
        (row_pid, key_id, wrapped, destroyed), ring = found[0][0], found[1]
        raw = None if destroyed or wrapped is None else ring.unwrap(key_id, row_pid, bytes(wrapped))
        return self._remember(schema, pid, raw, time.monotonic())

    def key(self, schema: str, pid: UUID) -> AESGCM | None:
        """The participant's key; None when it was destroyed (or never existed)."""
        entry = self._fresh(schema, pid) or self._load(schema, pid)
        return None if entry is None else entry.key

    def key_for_write(self, schema: str, pid: UUID) -> AESGCM | None:
        """The participant's key to encrypt new fields with; None when they have none yet.
        Refuses an erased participant."""
        entry = self._fresh(schema, pid) or self._load(schema, pid)
        if entry is None:
            return None
        key = entry.key
        if key is None:
            raise ParticipantErased(str(pid))
        return key

    def cached(self) -> Iterator[tuple[str, UUID]]:
        with self._lock:
            yield from list(self._cache)


STORE = KeyStore()


# -- the table ------------------------------------------------------------------------------
def destroy_key(cur: Cursor[TupleRow], schema: str, pid: UUID, by: str, reason: str) -> bool:
    """Overwrite the wrapped key; False if there was no live key to destroy."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.participant_keys SET wrapped_key = NULL, destroyed_at = %s,"
            " destroyed_by = %s, reason = %s"
            " WHERE participant_id = %s AND destroyed_at IS NULL RETURNING 1"
        ).format(sql.Identifier(schema)),
        (clock.now(), by, reason, pid),
    )
    return cur.fetchone() is not None


def rotate(db: KeyDatabase, schema: str, ring: KeyRing, *, batch: int = 500) -> int:
    """Re-wrap every key of `schema` not yet under the current master key, `batch` rows per
    transaction (rows are locked only for their batch; readers unwrap old and new rows alike).
    Returns the number of rows re-wrapped."""
    done = 0
    select = sql.SQL(
        "SELECT participant_id, master_key_id, wrapped_key FROM {}.participant_keys"
        " WHERE master_key_id <> %s ORDER BY participant_id LIMIT %s FOR UPDATE SKIP LOCKED"
    ).format(sql.Identifier(schema))
    update = sql.SQL(
        "UPDATE {}.participant_keys SET master_key_id = %s, wrapped_key = %s"
        " WHERE participant_id = %s"
    ).format(sql.Identifier(schema))
    while True:
        with db.transaction() as cur:
            cur.execute(select, (ring.current_id, batch))
            rows = cur.fetchall()
            for pid, key_id, wrapped in rows:
                if wrapped is None:  # destroyed: nothing to re-wrap, only the name
                    cur.execute(update, (ring.current_id, None, pid))
                    continue
                raw = ring.unwrap(key_id, pid, bytes(wrapped))
                new_id, new_wrapped = ring.wrap(pid, raw)
                cur.execute(update, (new_id, new_wrapped, pid))
        done += len(rows)
        if len(rows) < batch:
            return done


def key_ids(db: KeyDatabase, schema: str) -> dict[str, int]:
    """How many rows each master key wraps (for reports and tests)."""
    rows = db.fetchall(
        sql.SQL("SELECT master_key_id, count(*) FROM {}.participant_keys GROUP BY 1").format(
            sql.Identifier(schema)
        )
    )
    return {r[0]: int(r[1]) for r in rows}
