"""The enrolment index: the keys duplicate detection compares, kept by the writes themselves.

An enrolment without a `duplicate_reason` is refused (409 `possible_duplicate`) when a
participant with the same BOP register number, or the same name and date of birth, is
enrolled already (decision 56). Those keys were read from the search view, which first had to
apply the whole log: under load an enrolment waited for the projection worker's batch
(docs/performance.md, 2026-12-07). Now every write that sets them keeps them here, in the same
statement as its events (`writes`: enrolment, import, correction of personal details; erasure
deletes the row, services/app/erasure.py), so the check is one indexed read and never waits.

The keys are what the search view holds (projections/search.py `fold`, `key`): the folded
name, the register number's letters and digits, the date of birth, and the participant
number's key to name who was found. A grantee migrated from before this index has an empty one
and no row in `enrolment_index_built`: the first check fills it once from the search view
caught up with the log (`people`), then marks it built (decision 132).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from psycopg import sql

from domain.corrections import PersonalDetailsCorrected
from domain.participants import Participant, PersonalDetails
from projections.search import Duplicate, fold, key
from services.projector.serving import caught_up_tables
from services.store.database import Database
from services.store.eventstore import Insert
from services.store.ledger import LedgerApplication

TABLE = "enrolment_index"
BUILT = "enrolment_index_built"

# The grantees whose index this process has seen built (it never becomes unbuilt).
_built: WeakKeyDictionary[Database, set[str]] = WeakKeyDictionary()


def table(schema: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(TABLE))


def writes(schema: str, saved: Iterable[object]) -> list[Insert]:
    """The index rows of the participants among `saved` whose enrolment or personal details
    are among their unsaved events: one `Insert` (an upsert of them all) to save with them."""
    changed = [
        each
        for each in saved
        if isinstance(each, Participant)
        and any(
            isinstance(e, Participant.Enrolled | PersonalDetailsCorrected)
            for e in each.pending_events
        )
    ]
    if not changed:
        return []
    keys = [_keys(p.personal) for p in changed]
    rows = (
        [p.id for p in changed],
        [key(p.number) for p in changed],
        [folded for folded, _, _ in keys],
        [register for _, register, _ in keys],
        [born for _, _, born in keys],
    )
    statement = sql.SQL(
        "INSERT INTO {} (person_id, number_key, folded, register_key, born)"
        " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::date[])"
        " ON CONFLICT (person_id) DO UPDATE SET folded = EXCLUDED.folded,"
        " register_key = EXCLUDED.register_key, born = EXCLUDED.born"
    ).format(table(schema))
    return [Insert(statement.as_string(), rows)]


def _keys(personal: PersonalDetails) -> tuple[str, str | None, date | None]:
    # A NUL (which an earlier version accepted in a name) as the views store it: U+FFFD.
    name = fold(f"{personal.first_name} {personal.last_name}").replace("\x00", "\ufffd")
    return name, key(personal.bop_register_number), personal.date_of_birth


def people(ledger: LedgerApplication, wait: float) -> sql.Composed:
    """The index of `ledger`'s grantee, built first if it is not yet (once per process)."""
    db, schema = ledger.db, ledger.schema
    seen = _built.setdefault(db, set())
    if schema not in seen:
        s = sql.Identifier(schema)
        row = db.fetchone(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(s, sql.Identifier(BUILT))
        )
        if not (row and row[0]):
            _build(ledger, wait)
        seen.add(schema)
    return table(schema)


def _build(ledger: LedgerApplication, wait: float) -> None:
    """Fill the index from the search view caught up with the log. Rows written since by
    enrolments and corrections are kept as they are (theirs are newer); participants whose
    key was destroyed (erased) are left out, whatever the view had applied."""
    view = caught_up_tables(ledger.db, ledger.schema, "search", wait)["people"]
    s = sql.Identifier(ledger.schema)
    with ledger.db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "INSERT INTO {index} (person_id, number_key, folded, register_key, born)"
                " SELECT p.person_id, p.number_key, p.folded, p.register_key, p.born"
                " FROM {view} p WHERE p.kind = 'participant' AND NOT EXISTS ("
                "   SELECT 1 FROM {s}.participant_keys k"
                "   WHERE k.participant_id = p.person_id AND k.destroyed_at IS NOT NULL)"
                " ON CONFLICT (person_id) DO NOTHING"
            ).format(index=table(ledger.schema), view=view, s=s)
        )
        cur.execute(
            sql.SQL(
                "INSERT INTO {s}.{built} (position)"
                " SELECT coalesce(max(notification_id), 0) FROM {s}.events"
                " ON CONFLICT DO NOTHING"
            ).format(s=s, built=sql.Identifier(BUILT))
        )


def duplicates(db: Database, people: sql.Composable, details: PersonalDetails) -> list[Duplicate]:
    """Participants with the same register number (`same_register_number`), or the same name
    and date of birth (`same_name_and_birth_date`), case and accents ignored."""
    folded, register, born = _keys(details)
    rows = db.fetchall(
        sql.SQL(
            "SELECT person_id, upper(number_key),"
            " CASE WHEN register_key = %s THEN 'same_register_number'"
            " ELSE 'same_name_and_birth_date' END"
            " FROM {} WHERE register_key = %s OR (folded = %s AND born = %s) ORDER BY person_id"
        ).format(people),
        (register, register, folded, born),
    )
    return [Duplicate(r[0], r[1], r[2]) for r in rows]


def matching(
    db: Database, people: sql.Composable, registers: list[str], names: list[tuple[str, Any]]
) -> list[tuple[UUID, str, str | None, date | None]]:
    """The participants any of many enrolments may duplicate, in one query: those with one of
    `registers` (register keys), or one of `names` (folded name, date of birth); each as
    (id, folded name, register key, date of birth)."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT person_id, folded, register_key, born FROM {}"
            # Both as hashed subplans: `= ANY(array)` compares each row with every element
            # under a generic plan (25 ms instead of 1.6 for 200 keys and 6,000 people).
            " WHERE register_key IN (SELECT unnest(%s::text[]))"
            " OR (folded, born) IN (SELECT * FROM unnest(%s::text[], %s::date[]))"
            " ORDER BY person_id"
        ).format(people),
        (registers, [n for n, _ in names], [b for _, b in names]),
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]
