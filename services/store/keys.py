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

Unwrapped keys are cached per process (`KeyStore`: a bounded LRU per grantee, no periodic
reload). The erasing process evicts its entry at once; another process learns of the erasure
within `PROWD_KEY_CACHE_SECONDS` (1 s) by one indexed query per grantee for keys destroyed at a
later log position than it knows of.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString, Protocol
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


def _key(raw: bytes | None) -> AESGCM | None:
    # Made on use (about 1.5 us): an AESGCM object holds about 2.6 KB of cipher context against
    # 32 bytes of key, so caching objects made a full cache cost some 50 MB per process (found
    # by the soak test, docs/reliability.md). None: the key was destroyed.
    return None if raw is None else AESGCM(raw)


@dataclass
class _Grantee:
    """One grantee's keys in this process: an LRU of raw keys (None: destroyed), and the last
    erasure (its log position) this process knows of."""

    keys: OrderedDict[UUID, bytes | None] = field(default_factory=OrderedDict)
    erased_upto: int = 0
    checked_at: float = -1e9


class KeyStore:
    """Unwrapped participant keys of this process, over every attached database.

    Per grantee, up to `capacity` keys, least recently used evicted first; filled once with
    the newest keys when the grantee is first used (a rebuild decodes every participant), then
    by one key per miss. Nothing is reloaded in bulk again. Erasures made by other processes
    are learnt from the table: at most every `ttl` seconds per grantee, one indexed query for
    keys destroyed at a log position beyond the last seen (`destroyed_position`)."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self.ttl = 1.0
        self._lock = threading.RLock()
        self._attached: list[tuple[KeyDatabase, KeyRing]] = []
        self._home: dict[str, tuple[KeyDatabase, KeyRing]] = {}
        self._grantees: dict[str, _Grantee] = {}

    # -- databases ------------------------------------------------------------------------
    def attach(self, db: KeyDatabase, ring: KeyRing, ttl: float | None = None) -> None:
        """Let this process find participant keys in `db` (called by `Database.open`)."""
        with self._lock:
            self._attached = [(d, r) for d, r in self._attached if d is not db]
            self._attached.append((db, ring))
            self._home = {s: (d, r) for s, (d, r) in self._home.items() if d is not db}
            if ttl is not None:
                self.ttl = ttl
            self._grantees.clear()

    def detach(self, db: KeyDatabase) -> None:
        with self._lock:
            self._attached = [(d, r) for d, r in self._attached if d is not db]
            self._home = {s: (d, r) for s, (d, r) in self._home.items() if d is not db}
            self._grantees.clear()

    def ring(self, db: KeyDatabase) -> KeyRing:
        for d, r in self._attached:
            if d is db:
                return r
        raise KeyUnavailable("this database has no master key attached")

    def _query(self, schema: str, query: sql.Composable, params: Any) -> tuple[list[Any], KeyRing]:
        """Rows of `schema`'s key table, from whichever attached database holds it."""
        home = self._home.get(schema)
        for db, ring in [home] if home is not None else list(reversed(self._attached)):
            try:
                rows = db.fetchall(query, params)
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
                continue
            with self._lock:
                self._home[schema] = (db, ring)
            return rows, ring
        raise KeyUnavailable(f"no attached database holds {schema}.participant_keys")

    # -- the cache ------------------------------------------------------------------------
    def _remember(self, grantee: _Grantee, pid: UUID, raw: bytes | None) -> None:
        with self._lock:
            grantee.keys[pid] = raw
            grantee.keys.move_to_end(pid)
            while len(grantee.keys) > self.capacity:
                grantee.keys.popitem(last=False)

    def put(self, schema: str, pid: UUID, raw: bytes) -> None:
        grantee = self._grantees.get(schema)
        if grantee is not None:  # else the first use loads it with the others
            self._remember(grantee, pid, raw)

    def evict(self, schema: str, pid: UUID) -> None:
        with self._lock:
            grantee = self._grantees.get(schema)
            if grantee is not None:
                grantee.keys.pop(pid, None)

    def _grantee(self, schema: str) -> _Grantee:
        """The grantee's cache, filled on first use; erasures elsewhere checked every `ttl`."""
        grantee = self._grantees.get(schema)
        if grantee is None:
            grantee = self._warm(schema)
        if time.monotonic() - grantee.checked_at >= self.ttl:
            self._check_erasures(schema, grantee)
        return grantee

    def _warm(self, schema: str) -> _Grantee:
        grantee = _Grantee(checked_at=time.monotonic())
        # The mark first: an erasure committed after it is found by the next check.
        (mark,), _ = self._query(
            schema,
            sql.SQL("SELECT coalesce(max(destroyed_position), 0) FROM {}.participant_keys").format(
                sql.Identifier(schema)
            ),
            None,
        )
        grantee.erased_upto = int(mark[0])
        newest = self._unwrapped(schema, "ORDER BY created_at DESC LIMIT %s", (self.capacity,))
        for pid, raw in reversed(newest):  # the newest end up most recently used
            grantee.keys[pid] = raw
        with self._lock:
            return self._grantees.setdefault(schema, grantee)

    def _check_erasures(self, schema: str, grantee: _Grantee) -> None:
        rows, _ = self._query(
            schema,
            sql.SQL(
                "SELECT participant_id, destroyed_position FROM {}.participant_keys"
                " WHERE destroyed_position > %s"
            ).format(sql.Identifier(schema)),
            (grantee.erased_upto,),
        )
        with self._lock:
            for pid, position in rows:
                if pid in grantee.keys:
                    grantee.keys[pid] = None
                grantee.erased_upto = max(grantee.erased_upto, int(position))
            grantee.checked_at = time.monotonic()

    def _raw(self, schema: str, pid: UUID) -> tuple[bool, bytes | None]:
        """(whether the participant has a key row, the raw key or None once destroyed)."""
        grantee = self._grantee(schema)
        with self._lock:
            if pid in grantee.keys:
                grantee.keys.move_to_end(pid)
                return True, grantee.keys[pid]
        rows, ring = self._query(
            schema,
            sql.SQL(
                "SELECT master_key_id, wrapped_key FROM {}.participant_keys"
                " WHERE participant_id = %s"
            ).format(sql.Identifier(schema)),
            (pid,),
        )
        if not rows:
            return False, None
        key_id, wrapped = rows[0]
        raw = None if wrapped is None else ring.unwrap(key_id, pid, bytes(wrapped))
        self._remember(grantee, pid, raw)
        return True, raw

    def prefetch(self, schema: str, pids: Collection[UUID]) -> None:
        """Load the keys of `pids` this process lacks with one statement (a projector's batch
        decodes many participants' events: one look-up each otherwise, decision 154)."""
        grantee = self._grantee(schema)
        with self._lock:
            missing = [pid for pid in pids if pid not in grantee.keys]
        if not missing:
            return
        for pid, raw in self._unwrapped(schema, "WHERE participant_id = ANY(%s)", (missing,)):
            self._remember(grantee, pid, raw)

    def _unwrapped(
        self, schema: str, rest: LiteralString, params: Any
    ) -> list[tuple[UUID, bytes | None]]:
        """(participant, raw key; None once destroyed) of the key rows `rest` selects."""
        rows, ring = self._query(
            schema,
            sql.SQL(
                "SELECT participant_id, master_key_id, wrapped_key FROM {}.participant_keys " + rest
            ).format(sql.Identifier(schema)),
            params,
        )
        return [
            (pid, None if wrapped is None else ring.unwrap(key_id, pid, bytes(wrapped)))
            for pid, key_id, wrapped in rows
        ]

    def key(self, schema: str, pid: UUID) -> AESGCM | None:
        """The participant's key; None when it was destroyed (or never existed)."""
        return _key(self._raw(schema, pid)[1])

    def key_for_write(self, schema: str, pid: UUID) -> AESGCM | None:
        """The participant's key to encrypt new fields with; None when they have none yet.
        Refuses an erased participant."""
        found, raw = self._raw(schema, pid)
        if not found:
            return None
        if raw is None:
            raise ParticipantErased(str(pid))
        return _key(raw)

    def cached(self) -> Iterator[tuple[str, UUID]]:
        with self._lock:
            pairs = [(s, pid) for s, g in self._grantees.items() for pid in g.keys]
        yield from pairs


STORE = KeyStore()


# -- the table ------------------------------------------------------------------------------
def destroy_key(
    cur: Cursor[TupleRow], schema: str, pid: UUID, by: str, reason: str, position: int
) -> bool:
    """Overwrite the wrapped key; False if there was no live key to destroy. `position`: the
    log position of the erasure, by which other processes learn of it (`KeyStore`)."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.participant_keys SET wrapped_key = NULL, destroyed_at = %s,"
            " destroyed_by = %s, reason = %s, destroyed_position = %s"
            " WHERE participant_id = %s AND destroyed_at IS NULL RETURNING 1"
        ).format(sql.Identifier(schema)),
        (clock.now(), by, reason, position, pid),
    )
    return cur.fetchone() is not None


@dataclass(frozen=True)
class Unwrappable:
    """What `check_unwrap` found in one grantee's key table: how many live (not erased) keys
    there are, how many of them the key ring cannot unwrap, and why the first of those cannot."""

    live: int
    failing: int
    first: str


def check_unwrap(db: KeyDatabase, schema: str, ring: KeyRing, *, batch: int = 5000) -> Unwrappable:
    """Unwrap every live key of `schema` with `ring`, changing nothing (before `rotate`, so
    that a key ring missing an old key refuses before a row is re-wrapped, not half-way)."""
    select = sql.SQL(
        "SELECT participant_id, master_key_id, wrapped_key FROM {}.participant_keys"
        " WHERE wrapped_key IS NOT NULL AND participant_id > %s ORDER BY participant_id LIMIT %s"
    ).format(sql.Identifier(schema))
    live = failing = 0
    first = ""
    after = UUID(int=0)
    while True:
        rows = db.fetchall(select, (after, batch))
        for pid, key_id, wrapped in rows:
            try:
                ring.unwrap(key_id, pid, bytes(wrapped))
            except KeyUnavailable as e:
                failing += 1
                first = first or str(e)
        live += len(rows)
        if len(rows) < batch:
            return Unwrappable(live, failing, first)
        after = rows[-1][0]


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
