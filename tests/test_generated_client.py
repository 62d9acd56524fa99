"""A Python client generated from the live OpenAPI document covers every operation, and the
README's walk-through plus one webhook-endpoint registration run through it alone (issue 20;
docs/api.md "Generating a client").

`openapi-python-client` (a dev dependency) writes the client into a temporary folder; the test
imports it and hands it an httpx client that speaks to the app in-process. No request below is
written by hand. One more client is generated with the generator's default configuration and
speaks HTTP to `prowd serve` (the enumerations' `x-enum-varnames`, services/api/enum_names.py)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.identity.tokens import issue_token
from services.projector import live as projector
from tests.conftest import unique_slug

CONFIG = """\
literal_enums: true
post_hooks: []
project_name_override: prowd_client
package_name_override: prowd_client
content_type_overrides:
  application/x-ndjson: application/octet-stream
  text/csv: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def generated(local_client: TestClient[Litestar], tmp_path_factory: Any) -> Iterator[Any]:
    """(spec, generator output, package root) of a client generated from the live schema."""
    root = tmp_path_factory.mktemp("generated")
    spec = local_client.get("/schema/openapi.json").json()
    (root / "openapi.json").write_text(json.dumps(spec))
    (root / "config.yaml").write_text(CONFIG)
    tool = Path(sys.executable).parent / "openapi-python-client"
    run = subprocess.run(
        [
            str(tool),
            "generate",
            "--path",
            str(root / "openapi.json"),
            "--config",
            str(root / "config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(root / "prowd_client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(root))
    try:
        yield spec, run.stdout + run.stderr, root / "prowd_client"
    finally:
        sys.path.remove(str(root))
        for name in [
            m for m in sys.modules if m == "prowd_client" or m.startswith("prowd_client.")
        ]:
            del sys.modules[name]


def test_the_generator_reports_nothing_missing(generated):
    _, output, _ = generated
    assert "Warning" not in output and "WARNING" not in output, output


def test_every_operation_has_a_generated_function(generated):
    spec, _, package = generated
    operations = sum(1 for item in spec["paths"].values() for method in item if method in METHODS)
    functions = [
        f for f in (package / "api").rglob("*.py") if "def sync_detailed(" in f.read_text()
    ]
    assert len(functions) == operations


def op(tag: str, name: str) -> ModuleType:
    return importlib.import_module(f"prowd_client.api.{tag}.{name}")


def model(name: str) -> Any:
    module = importlib.import_module("prowd_client.models")
    return getattr(module, name)


class Api:
    """The generated client under one token."""

    def __init__(self, app: Litestar, settings: Any, role: str, grantee: str, **claims: Any):
        token = issue_token(settings, subject=f"gen-{role}", roles=[role], grantees=[grantee])
        authenticated = importlib.import_module("prowd_client").AuthenticatedClient
        transport = TestClient(app, base_url="http://testserver.local")
        transport.headers["Authorization"] = f"Bearer {token}"
        self.client = authenticated(base_url="http://testserver.local", token=token)
        self.client.set_httpx_client(transport)

    def call(self, tag: str, name: str, *args: Any, status: int = 200, **kwargs: Any) -> Any:
        r = op(tag, name).sync_detailed(*args, client=self.client, **kwargs)
        assert r.status_code == status, r.content
        return r.parsed


def test_the_readme_walk_through_and_a_webhook_endpoint_through_the_generated_client(
    generated, local_client, settings, db, receiver
):
    app = local_client.app
    slug = unique_slug("gen")
    admin = Api(app, settings, "platform_admin", "*")
    grantee = model("GranteeIn").from_dict(
        {"slug": slug, "name": "Lakeshore Reentry", "grant_number": "FS-40001-26-60-A-17"}
    )
    created = admin.call("grantees", "v1_grantees_create_grantee", body=grantee, status=201)
    assert created.slug == slug

    coordinator = Api(app, settings, "coordinator", slug)
    facilities = "facilities_and_cohorts"
    for facility in (
        {"code": "FCI-LK", "name": "FCI Lakeshore", "kind": "bop_institution"},
        {"code": "RRC-LK", "name": "Lakeshore RRC", "kind": "rrc"},
    ):
        coordinator.call(
            facilities,
            "v1_grantees_facilities_register_facility",
            slug,
            body=model("FacilityIn").from_dict(facility),
            status=201,
        )
    coordinator.call(
        facilities,
        "v1_grantees_cohorts_start_cohort",
        slug,
        body=model("CohortIn").from_dict(
            {"code": "LK-2026A", "facility": "FCI-LK", "start_date": "2026-01-12"}
        ),
        status=201,
    )
    enrolment = model("EnrollmentIn").from_dict(
        {
            "first_name": "Dana",
            "last_name": "Reyes",
            "date_of_birth": "1988-03-14",
            "program_entry_date": "2026-02-02",
            "facility": "FCI-LK",
            "cohort": "LK-2026A",
        }
    )
    enrol = "v1_grantees_participants_enroll"
    dana = coordinator.call(
        "participants", enrol, slug, body=enrolment, idempotency_key="enrol-0001", status=201
    )
    again = coordinator.call(
        "participants", enrol, slug, body=enrolment, idempotency_key="enrol-0001", status=201
    )
    assert again.id == dana.id  # the retry answered as the first time, nothing appended
    move = "v1_grantees_participants_participant_id_stage_transitions_transition"
    for transition in (
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-LK",
            "occurred_at": "2026-06-01T09:00:00-05:00",
        },
        {"to_stage": 3, "occurred_at": "2026-08-03T09:00:00-05:00"},
    ):
        moved = coordinator.call(
            "participants",
            move,
            slug,
            dana.id,
            body=model("StageTransitionIn").from_dict(transition),
            status=201,
        )
    assert moved.stage == 3
    projector.drain(db, f"g_{slug}")
    page = coordinator.call(
        "participants", "v1_grantees_participants_caseload", slug, min_position=moved.position
    )
    assert [(row.id, row.stage) for row in page.items] == [(dana.id, 3)]
    history = coordinator.call(
        "participants", "v1_grantees_participants_participant_id_history_history", slug, dana.id
    )
    assert history.participant_id == dana.id and len(history.events) == 3

    # A batch through the generated client: an enrolment and its move, one refused item.
    batch = coordinator.call(
        "commands",
        "v1_grantees_commands_run_commands",
        slug,
        body=model("BatchIn").from_dict(
            {
                "items": [
                    {
                        "kind": "participant.enrol",
                        "idempotency_key": "gen-batch-1",
                        "ref": "luis",
                        "body": {
                            "first_name": "Luis",
                            "last_name": "Ortega",
                            "date_of_birth": "1988-04-12",
                            "program_entry_date": "2026-02-02",
                            "facility": "FCI-LK",
                            "cohort": "LK-2026A",
                        },
                    },
                    {
                        "kind": "participant.stage_transition",
                        "idempotency_key": "gen-batch-2",
                        "target": "$ref:luis",
                        "body": {"to_stage": 3, "occurred_at": "2026-08-03T09:00:00-05:00"},
                    },
                    {"kind": "goal.teleport", "idempotency_key": "gen-batch-3", "body": {}},
                ]
            }
        ),
    )
    assert (batch.accepted, batch.refused) == (2, 1)
    assert [i.status for i in batch.items] == [201, 201, 422]
    assert batch.items[2].problem.code == "unknown_kind"

    # An illegal move is a problem the client parses as one.
    illegal = op("participants", move).sync_detailed(
        slug,
        dana.id,
        client=coordinator.client,
        body=model("StageTransitionIn").from_dict(
            {
                "to_stage": 2,
                "placement": "rrc",
                "facility": "RRC-LK",
                "occurred_at": "2026-08-10T09:00:00-05:00",
            }
        ),
    )
    assert illegal.status_code == 422
    assert illegal.parsed.type_ == "urn:prowd:problem:illegal_transition"

    grantee_admin = Api(app, settings, "grantee_admin", slug)
    endpoint = grantee_admin.call(
        "webhooks",
        "v1_grantees_webhook_endpoints_create",
        slug,
        body=model("EndpointIn").from_dict(
            {"url": receiver.url, "facility": "RRC-LK", "event_types": ["meeting.held"]}
        ),
        status=201,
    )
    assert endpoint.secret.startswith("whsec_")
    listed = grantee_admin.call("webhooks", "v1_grantees_webhook_endpoints_list_endpoints", slug)
    assert [e.id for e in listed.items] == [endpoint.id]


def test_the_default_configuration_generates_a_client_that_works(
    local_client, server_url, settings, tmp_path
):
    """No configuration at all: the enumerations whose values differ only by case or
    punctuation (the time zones `Etc/GMT+1` and `Etc/GMT-1`) carry `x-enum-varnames`, so the
    generator names their members apart instead of refusing the document; the client then
    speaks HTTP to `prowd serve` on its own."""
    from tests.console_browser import own_database, serve

    spec = local_client.get("/schema/openapi.json").json()
    zones = spec["components"]["schemas"]["GranteeIn"]["properties"]["time_zone"]
    assert len(set(zones["x-enum-varnames"])) == len(zones["enum"])
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "prowd_default"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("prowd_default")
        models = importlib.import_module("prowd_default.models")
        zone = models.GranteeInTimeZone
        assert zone.ETC_GMT_PLUS_5.value == "Etc/GMT+5"
        assert zone.ETC_GMT_MINUS_5.value == "Etc/GMT-5"
        assert len(zone) == len(zones["enum"])

        def call(module: str) -> Any:
            return importlib.import_module(f"prowd_default.api.{module}")

        slug = unique_slug("dflt")
        with own_database(server_url) as url:
            for base in serve(url, settings, tmp_path / "serve.log"):
                admin = issue_token(
                    settings, subject="gen-admin", roles=["platform_admin"], grantees=["*"]
                )
                api = client_module.AuthenticatedClient(base_url=base, token=admin)
                created = call("grantees.v1_grantees_create_grantee").sync_detailed(
                    client=api,
                    body=models.GranteeIn(
                        slug=slug,
                        name="Eastern Reentry",
                        grant_number="FS-40002-26-60-A-17",
                        time_zone=zone.ETC_GMT_PLUS_5,
                    ),
                )
                assert created.status_code == 201, created.content
                assert created.parsed.time_zone == "Etc/GMT+5"
                got = call("grantees.v1_grantees_get_grantee").sync(slug, client=api)
                assert (got.slug, got.time_zone) == (slug, "Etc/GMT+5")
                coordinator = client_module.AuthenticatedClient(
                    base_url=base,
                    token=issue_token(
                        settings, subject="gen-coord", roles=["coordinator"], grantees=[slug]
                    ),
                )
                facilities = "facilities_and_cohorts.v1_grantees_facilities_"
                registered = call(f"{facilities}register_facility").sync_detailed(
                    slug,
                    client=coordinator,
                    body=models.FacilityIn.from_dict(
                        {"code": "FCI-EA", "name": "FCI Eastern", "kind": "bop_institution"}
                    ),
                )
                assert registered.status_code == 201, registered.content
                listed = call(f"{facilities}list_facilities").sync(
                    slug, client=coordinator, min_position=registered.parsed.position
                )
                assert [f.code for f in listed.items] == ["FCI-EA"]
                # A problem answer parses as one through the default client too.
                missing = call("grantees.v1_grantees_get_grantee").sync_detailed(
                    "no_such_grantee", client=api
                )
                assert missing.status_code == 404
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "prowd_default"]:
            del sys.modules[name]
