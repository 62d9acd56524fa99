"""Erasure of a participant's personal data: crypto-shredding (DESIGN D8, docs/privacy.md).

One transaction holds all of it: the `Participant.Erased` event (who, why; nothing personal),
the destruction of the participant's data key (services/store/keys.py) and every registered
scrubber of stored copies outside the views (`ON_ERASE`). The views scrub their own copies
when their worker applies `Participant.Erased` (a handler in each projection that holds
personal fields), so a rebuild yields the same erased rows: the destroyed key leaves the
encrypted fields unreadable and they decode as the erased placeholders.

A legal hold over the participant's records (or the grantee's) refuses the erasure
(`legal_hold`), before anything is written.

Other modules register scrubbers with `@on_erase`: a function of the transaction's cursor, the
grantee schema and the participant id, run after the key is destroyed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock
from domain.common import actor
from domain.evaluation import Feedback
from domain.goals import Goal
from domain.participants import ERASED_NAME, Participant
from domain.resources import Referral
from services.store import keys
from services.store.ledger import Command, LedgerApplication, Saved

Scrubber = Callable[[Cursor[TupleRow], str, UUID], None]

# Scrubbers of stored copies outside the projections, run in the erasure's transaction.
ON_ERASE: list[Scrubber] = []


def on_erase(scrubber: Scrubber) -> Scrubber:
    ON_ERASE.append(scrubber)
    return scrubber


@on_erase
def _enrolment_index(cur: Cursor[TupleRow], schema: str, participant_id: UUID) -> None:
    """The participant's duplicate-detection keys (services/app/enrolment_index.py): an
    erased participant is nobody a new enrolment can duplicate."""
    cur.execute(
        sql.SQL("DELETE FROM {}.enrolment_index WHERE person_id = %s").format(
            sql.Identifier(schema)
        ),
        (participant_id,),
    )


_OWNED_TOPICS = [get_topic(c) for c in (Goal.Set, Referral.Made, Feedback.Given)]


@on_erase
def _idempotency(cur: Cursor[TupleRow], schema: str, participant_id: UUID) -> None:
    """Stored first outcomes of requests on the participant and on their goals, referrals and
    feedback: their fingerprints hash request bodies that held personal fields."""
    s = sql.Identifier(schema)
    cur.execute(
        sql.SQL(
            "DELETE FROM {s}.idempotency WHERE convert_from(body, 'UTF8')::jsonb->>'aggregate_id'"
            " IN (SELECT %s::text UNION ALL SELECT originator_id::text FROM {s}.events"
            "     WHERE topic = ANY(%s)"
            "       AND convert_from(state, 'UTF8')::jsonb->>'participant_id' = %s::text)"
        ).format(s=s),
        (participant_id, _OWNED_TOPICS, participant_id),
    )


@on_erase
def _webhook_deliveries(cur: Cursor[TupleRow], schema: str, participant_id: UUID) -> None:
    """Queued and delivered webhook messages about the participant keep no meeting summary
    (what the receiver already took cannot be recalled; see docs/privacy.md)."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.webhook_deliveries SET body = convert_to(jsonb_set("
            "   convert_from(body, 'UTF8')::jsonb, '{{data,summary}}', to_jsonb(%s::text))::text,"
            "   'UTF8')"
            " WHERE position(%s IN convert_from(body, 'UTF8')) > 0"
            "   AND coalesce(convert_from(body, 'UTF8')::jsonb->'data'->>'summary', '') <> ''"
        ).format(sql.Identifier(schema)),
        (ERASED_NAME, str(participant_id)),
    )


def erase_participant(
    ledger: LedgerApplication,
    command: Command,
    participant_id: UUID,
    *,
    reason: str,
    check_erasable: Callable[[UUID], None],
    scrubbers: Sequence[Scrubber] | None = None,
) -> Saved[Participant]:
    """Erase one participant of the ledger's grantee; `check_erasable` refuses under a legal
    hold."""
    check_erasable(participant_id)
    participant = ledger.load(Participant, participant_id, "participant")
    participant.erase(reason)
    schema = ledger.schema
    by = actor.get()
    run = list(ON_ERASE if scrubbers is None else scrubbers)

    def shred(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
        position = ids[-1]  # other processes learn of the erasure by it (services/store/keys.py)
        if not keys.destroy_key(cur, schema, participant_id, by, reason.strip(), position):
            # Enrolled before encryption (no key yet): leave a destroyed row, so nothing
            # personal can be written for the participant again.
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.participant_keys (participant_id, master_key_id, wrapped_key,"
                    " destroyed_at, destroyed_by, reason, destroyed_position)"
                    " VALUES (%s, '', NULL, %s, %s, %s, %s)"
                    " ON CONFLICT (participant_id) DO NOTHING"
                ).format(sql.Identifier(schema)),
                (participant_id, clock.now(), by, reason.strip(), position),
            )
        for scrub in run:
            scrub(cur, schema, participant_id)

    keys.STORE.evict(schema, participant_id)
    try:
        return ledger.record(participant, command, side_effects=[shred])
    finally:
        keys.STORE.evict(schema, participant_id)
