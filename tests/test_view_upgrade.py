"""A release that adds a table to a view (decision 116): the migration gives the live build the
table and rebuilds the view from the log, so the live projector never meets a missing table and
the new table holds the history. Shown with the assignments view's `staff` table (decision
114), dropped from the live build as a deployment from before it would lack it. A release that
adds an index to a view (decisions 84 and 142) gives the builds the index at migration, with
no rebuild."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from structlog.testing import capture_logs

from projections.registry import PROJECTIONS, lacking_tables
from services.app.tenancy import GRANTEE_TABLES
from services.projector import live as projector
from services.projector import rebuilds
from services.projector.rebuilds import rebuild_lock_key
from services.store import provisioning
from services.store.builds import ViewTable
from tests.conftest import own_database, stack_fixtures

# Each test migrates every grantee of its database (`migrate(force=True)`): here a database of
# the module's own, not the suite's, where hundreds of other tests' grantees made each test
# take 50-65 s.
database_url = own_database("prowd_upgrade")
settings, db, app, client, auth, make_grantee = stack_fixtures("module", "prowd-test-upgrade")


def assign(client, auth, grantee: str, pid: str, staff: str) -> None:
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/assignments",
        json={"duty": "case_manager", "staff": staff},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 201, r.text


def directory(client, auth, grantee: str) -> dict[str, int]:
    r = client.get(f"/v1/grantees/{grantee}/staff", headers=auth("coordinator", grantee))
    assert r.status_code == 200, r.text
    return {s["subject"]: s["case_manager_of"] for s in r.json()["items"]}


def live_build(db, schema: str, view: str = "assignments") -> int:
    row = db.fetchone(
        sql.SQL("SELECT version FROM {}.active_views WHERE view = %s").format(
            sql.Identifier(schema)
        ),
        (view,),
    )
    return int(row[0])


def as_before_the_table(db, schema: str) -> int:
    """Drop the live build's `staff` table, as the owner: the view as a release before the
    table left it. Returns the live build."""
    build = live_build(db, schema)
    with db.owner_connection() as conn:
        conn.execute(
            sql.SQL("DROP TABLE {}.{}").format(
                sql.Identifier(schema), sql.Identifier(f"staff_b{build}")
            )
        )
    with db.transaction() as cur:
        assert lacking_tables(cur, schema) == {"assignments": build}
    return build


def test_the_migration_rebuilds_a_view_whose_live_build_lacks_a_new_table(
    app, client, auth, db, grantee, enrol
):
    schema = f"g_{grantee}"
    ann, bea = enrol(first_name="Ann")["id"], enrol(first_name="Bea")["id"]
    assign(client, auth, grantee, ann, "cm-rita")
    assign(client, auth, grantee, bea, "cm-rita")
    assign(client, auth, grantee, bea, "cm-sam")
    projector.drain(db, schema)
    assert directory(client, auth, grantee) == {"cm-rita": 1, "cm-sam": 1}
    before = as_before_the_table(db, schema)

    with capture_logs() as logs:
        app.state.tenancy.migrate(force=True)

    with db.transaction() as cur:
        assert lacking_tables(cur, schema) == {}
    assert live_build(db, schema) > before
    assert [e["schema"] for e in logs if e["event"] == "view_rebuilt_for_new_tables"] == [schema]
    # The history is in the new table, and the live projector goes on with it.
    assert directory(client, auth, grantee) == {"cm-rita": 1, "cm-sam": 1}
    assign(client, auth, grantee, ann, "cm-sam")
    projector.drain(db, schema)
    assert directory(client, auth, grantee) == {"cm-rita": 0, "cm-sam": 2}
    live = projector.digests(db, schema)["assignments"]
    rebuilds.rebuild_views(db, schema, ["assignments"])
    assert projector.digests(db, schema)["assignments"] == live


def test_a_rebuild_that_cannot_run_leaves_a_working_view_and_says_what_to_run(
    app, client, auth, db, grantee, enrol, database_url
):
    schema = f"g_{grantee}"
    ann = enrol(first_name="Ann")["id"]
    assign(client, auth, grantee, ann, "cm-rita")
    projector.drain(db, schema)
    build = as_before_the_table(db, schema)

    # Another rebuild of the grantee holds its lock while the migration runs.
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (rebuild_lock_key(schema),))
        with capture_logs() as logs:
            app.state.tenancy.migrate(force=True)
    [warning] = [e for e in logs if e["event"] == "view_rebuild_needed"]
    assert warning["views"] == ["assignments"]
    assert warning["run"] == f"prowd projections rebuild --grantee {grantee} --view assignments"
    # The table is there, on the same live build: the projector applies what comes next.
    with db.transaction() as cur:
        assert lacking_tables(cur, schema) == {}
    assert live_build(db, schema) == build
    assign(client, auth, grantee, ann, "cm-sam")
    projector.drain(db, schema)
    with db.transaction() as cur:
        assert projector.lowest_position(db, schema) == projector.log_head(cur, schema)
    # Only what came after the table (Rita, assigned before it, is not listed) until the
    # rebuild the warning names is run.
    assert directory(client, auth, grantee) == {"cm-sam": 1}
    rebuilds.rebuild_views(db, schema, ["assignments"])
    assert directory(client, auth, grantee) == {"cm-rita": 0, "cm-sam": 1}


def test_the_migration_rebuilds_a_view_whose_live_build_lacks_a_new_column(
    app, client, auth, db, grantee, enrol
):
    """The documents view's Part 2 columns (decision 131), dropped from the live build as a
    deployment from before them would lack them: the migration rebuilds the view."""
    schema = f"g_{grantee}"
    pid = enrol(first_name="Ann")["id"]
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/documents",
        files={"file": ("rdap.txt", b"RDAP letter", "text/plain")},
        data={"title": "RDAP letter", "kind": "letter", "part2": "true"},
        headers=auth("case_manager", grantee),
    )
    assert r.status_code == 201, r.text
    projector.drain(db, schema)
    (build,) = db.fetchone(
        sql.SQL("SELECT version FROM {}.active_views WHERE view = 'documents'").format(
            sql.Identifier(schema)
        )
    )
    with db.owner_connection() as conn:
        conn.execute(
            sql.SQL(
                "ALTER TABLE {}.{} DROP COLUMN part2, DROP COLUMN part2_changed_by,"
                " DROP COLUMN part2_changed_at, DROP COLUMN part2_reason"
            ).format(sql.Identifier(schema), sql.Identifier(f"documents_b{build}"))
        )
    with db.transaction() as cur:
        assert lacking_tables(cur, schema) == {"documents": build}

    app.state.tenancy.migrate(force=True)

    with db.transaction() as cur:
        assert lacking_tables(cur, schema) == {}
    r = client.get(
        f"/v1/grantees/{grantee}/participants/{pid}/documents",
        headers=auth("case_manager", grantee),
    )
    assert [d["part2"] for d in r.json()["items"]] == [True]


@pytest.mark.parametrize(
    ("view", "table", "suffix", "method"),
    [
        (
            "meetings",
            "meetings",
            "awaiting",
            "(scheduled_for, meeting_id) WHERE (status = 'scheduled'::text)",
        ),
        ("supervision", "escalations", "raised", "(raised_at, escalation_id)"),
    ],
    ids=["scheduled-meetings-142", "escalations-newest-raised-148"],
)
def test_a_release_that_adds_an_index_gives_the_live_build_the_index_without_a_rebuild(
    app, db, grantee, view, table, suffix, method
):
    """An index a release adds to a view (the meetings' index of the scheduled meetings,
    decision 142; the escalations' index of their list's order, decision 148), absent from the
    live build and from the stamp of the deployment before it: the migration a service runs at
    start (not forced) finds the stamp changed and indexes the live build as it is."""
    schema = f"g_{grantee}"
    build = live_build(db, schema, view)
    index = f"{table}_b{build}_{suffix}"
    views = [ViewTable(p.name, *d) for p in PROJECTIONS for d in p.definitions()]
    before = [
        v._replace(indexes=[i for i in v.indexes if i[0] != suffix]) if v.table == table else v
        for v in views
    ]
    assert before != views
    with db.owner_connection() as conn:
        conn.execute(sql.SQL("DROP INDEX {}.{}").format(*map(sql.Identifier, (schema, index))))
        with conn.cursor() as cur:
            stamp = provisioning.stamp(cur, db.role, [repr(v) for v in before], GRANTEE_TABLES)
        conn.execute("UPDATE prowd.migrated SET stamp = %s WHERE slug = %s", (stamp, grantee))

    assert db.migrate_on_start
    with capture_logs() as logs:
        app.state.tenancy.migrate()

    assert db.fetchone(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
        (schema, index),
    ) == (f"CREATE INDEX {index} ON {schema}.{table}_b{build} USING btree {method}",)
    assert live_build(db, schema, view) == build
    assert not [e for e in logs if e["event"].startswith("view_rebuil")]
