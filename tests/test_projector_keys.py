"""A projector's batch looks up the keys of its participants with one statement (decision 154).

Personal fields are stored encrypted under each participant's key (DESIGN D8). A process that
lacks a key looks it up; a batch of events naming many participants the worker has not seen
(each enrolled by an API process) used to look each up in a statement and transaction of its
own. Statements are counted from libpq's trace of every connection of the pool.
"""

from __future__ import annotations

from uuid import UUID

from projections.base import Tables
from services.projector import live as projector
from services.settings import Settings
from services.store import keys
from tests.pgtrace import traced


def test_a_batch_looks_up_its_participants_keys_in_one_statement(
    db, settings: Settings, grantee, enrol
) -> None:
    schema = f"g_{grantee}"
    enrol(first_name="First")
    projector.drain(db, schema)  # this process now holds the grantee's keys, as a worker would
    names = [f"Name{i}" for i in range(5)]
    people = [UUID(enrol(first_name=name)["id"]) for name in names]
    for pid in people:  # as in a worker, which never saw these keys made
        keys.STORE.evict(schema, pid)

    with traced(db, settings.pool_max) as transactions:
        projector.drain(db, schema)
    lookups = [
        statement
        for statements in transactions
        for statement in statements
        if "participant_keys" in statement and "destroyed_position" not in statement
    ]
    assert len(lookups) == 1, lookups

    # ...and every name was decrypted with the key that one statement found.
    with db.transaction() as cur:
        build = projector.active_build(cur, schema, "caseload")
        assert build is not None
        table = Tables(schema, build)["caseload"]
        cur.execute(
            f"SELECT participant_id, first_name FROM {table.as_string(cur)}"
            " WHERE participant_id = ANY(%s)",
            (people,),
        )
        decoded = dict(cur.fetchall())
    assert [decoded[pid] for pid in people] == names
