"""The service on a real Citus coordinator (issue 25): run only with PROWD_CITUS_URL, the owner
login's URL of the cluster tests/scale/citus_cluster.sh makes
(`postgresql://prowd_owner@127.0.0.1:9700/prowd`); skipped otherwise, as in CI, which has no
Citus (docs/operations.md, "A local Citus cluster").

What it checks, against the live cluster:
- a registered grantee's schema is a distributed schema, every table of it on one worker node,
  and the platform schema has no distributed table (decision 88);
- under Citus `append_events` runs with its caller's rights and the service role may log in
  (the coordinator connects to the workers as it);
- a command appends, its projection shows it, the chain verifies;
- the append-only triggers still refuse UPDATE and TRUNCATE of the log through the coordinator.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.api.app import create_app
from services.app.tenancy import Tenancy
from services.audit.verify import verify
from services.identity.tokens import issue_token
from services.projector import live
from services.settings import Settings
from services.store.database import Database
from tests.conftest import JWT_SECRET, unique_slug

CITUS_URL = os.environ.get("PROWD_CITUS_URL", "")

pytestmark = pytest.mark.skipif(
    not CITUS_URL,
    reason="no Citus cluster: set PROWD_CITUS_URL (tests/scale/citus_cluster.sh; not in CI)",
)


@pytest.fixture(scope="module")
def citus_settings() -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        database_url=CITUS_URL,
        jwt_secret=JWT_SECRET,
        pool_max=4,
        rate_limit_token=0,
        rate_limit_ip=0,
        view_wait_max=20.0,
    )


@pytest.fixture(scope="module")
def citus_db(citus_settings: Settings) -> Iterator[Database]:
    db = Database(CITUS_URL, citus_settings, name="prowd-citus-test").open()
    Tenancy(db).migrate(force=True)
    yield db
    db.close()


@pytest.fixture(scope="module")
def citus_client(citus_settings: Settings, citus_db: Database) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(citus_settings, citus_db)) as c:
        yield c


def auth(settings: Settings, role: str, grantee: str = "*") -> dict[str, str]:
    token = issue_token(settings, subject=f"citus-{role}", roles=[role], grantees=[grantee])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def grantee(citus_client: TestClient[Litestar], citus_settings: Settings) -> str:
    slug = unique_slug("citus")
    r = citus_client.post(
        "/v1/grantees",
        json={"slug": slug, "name": "Citus grantee", "grant_number": "FS-0025-26"},
        headers=auth(citus_settings, "platform_admin"),
    )
    assert r.status_code == 201, r.text
    h = auth(citus_settings, "coordinator", slug)
    for body in (
        {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
    ):
        r = citus_client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h)
        assert r.status_code == 201, r.text
    r = citus_client.post(
        f"/v1/grantees/{slug}/cohorts",
        json={"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return slug


def one(query: str, *params: Any) -> Any:
    with psycopg.connect(CITUS_URL, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def test_the_grantee_schema_is_distributed_on_one_worker(grantee: str) -> None:
    schema = f"g_{grantee}"
    assert one("SELECT count(*) FROM pg_dist_schema WHERE schemaid = %s::regnamespace", schema)
    nodes = one(
        "SELECT array_agg(DISTINCT nodeport) FROM citus_shards WHERE table_name::text LIKE %s",
        schema + ".%",
    )
    workers = one("SELECT array_agg(node_port) FROM citus_get_active_worker_nodes()")
    assert len(nodes) == 1 and nodes[0] in workers
    tables = one(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind = 'r'",
        schema,
    )
    distributed = one(
        "SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
        schema,
    )
    assert distributed == tables > 0
    assert (
        one("SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'prowd.%%'") == 0
    )


def test_appends_run_as_the_caller_and_the_service_role_logs_in(grantee: str) -> None:
    assert not one(
        "SELECT prosecdef FROM pg_proc WHERE oid = %s::regprocedure",
        f"g_{grantee}.append_events(uuid[], bigint[], text[], bytea[])",
    )
    assert one("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'prowd_service'")


def test_a_command_reaches_the_view_and_the_chain_verifies(
    grantee: str, citus_client: TestClient[Litestar], citus_settings: Settings, citus_db: Database
) -> None:
    h = auth(citus_settings, "coordinator", grantee)
    r = citus_client.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            "first_name": "Dana",
            "last_name": "Reyes",
            "date_of_birth": "1988-03-14",
            "program_entry_date": "2026-02-02",
            "facility": "FCI-A",
            "cohort": "C1",
        },
        headers={**h, "Idempotency-Key": "citus-enrol-1"},
    )
    assert r.status_code == 201, r.text
    position = r.json()["position"]
    # The projection (as the worker runs it: one batch, its tracking, one transaction).
    live.drain(citus_db, f"g_{grantee}")
    r = citus_client.get(f"/v1/grantees/{grantee}/participants?min_position={position}", headers=h)
    assert r.status_code == 200, r.text
    assert [p["last_name"] for p in r.json()["items"]] == ["Reyes"]
    result = verify(citus_db, f"g_{grantee}")
    assert result.intact, result


@pytest.mark.parametrize("statement", ["UPDATE {}.events SET topic = topic", "TRUNCATE {}.events"])
def test_the_log_stays_append_only_through_the_coordinator(grantee: str, statement: str) -> None:
    with (
        psycopg.connect(CITUS_URL, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement.format(f'"g_{grantee}"'))
