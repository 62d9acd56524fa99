"""The platform-wide quarterly report over many grantees (decision 150): their facts are read
together, twenty grantees to a transaction, and the report is the one each grantee's own report
and the sum of them give.

Thirty grantees: one with the full history of tests/test_oversight.py (meetings, cadence,
mentors, goals, escalations, feedback), twenty-nine with a few participants each, in four time
zones, so the grantees span two groups of the read and the second is not full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.identity.tokens import issue_token
from services.projector import live as projector
from services.reports import jobs, privacy
from services.reports.jobs import Ask, Format, Grantee
from services.reports.privacy import PersonalDataLeak, personal_keys
from services.reports.quarterly import Kind, Quarter, catalogue
from services.settings import Settings
from services.store.database import Database
from tests.conftest import corrupt_event
from tests.test_oversight import build

Q = Quarter(2026, 3)
GRANTEES = 30
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


def small_grantee(
    client: TestClient[Litestar], auth: Callable[..., dict[str, str]], i: int
) -> Grantee:
    """Grantee `i`: `i % 4 + 1` participants entered in 2026Q2 or 2026Q3, every third grantee's
    first moved to an RRC, every fifth's second exited."""
    slug = f"many_{i:02d}_{Q.year}"
    zone = ZONES[i % len(ZONES)]
    r = client.post(
        "/v1/grantees",
        json={
            "slug": slug,
            "name": f"Grantee {i}",
            "grant_number": "FS-0001-26",
            "time_zone": zone,
        },
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201, r.text
    h = auth("coordinator", slug)
    base = f"/v1/grantees/{slug}"
    for site in (
        {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
    ):
        assert client.post(f"{base}/facilities", json=site, headers=h).status_code == 201
    cohort = {"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"}
    assert client.post(f"{base}/cohorts", json=cohort, headers=h).status_code == 201
    ids = []
    for p in range(i % 4 + 1):
        person = {
            "first_name": f"Quillon{p}",
            "last_name": f"Marchbanks{i}",
            "date_of_birth": "1983-05-17",
            "program_entry_date": f"2026-0{6 + p % 3}-{1 + i % 27:02d}",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        r = client.post(f"{base}/participants", json=person, headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    if i % 3 == 0:
        move = {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-09-14T10:00:00-04:00",
        }
        r = client.post(f"{base}/participants/{ids[0]}/stage-transitions", json=move, headers=h)
        assert r.status_code == 201, r.text
    if i % 5 == 0 and len(ids) > 1:
        done = {"exit_date": "2026-09-30", "reason": "completed"}
        r = client.post(f"{base}/participants/{ids[1]}/exit", json=done, headers=h)
        assert r.status_code == 201, r.text
    return Grantee(slug, f"g_{slug}", zone, f"Grantee {i}")


def each_on_its_own(db: Database, grantees: list[Grantee], ask: Ask, fmt: Format) -> bytes:
    """The platform-wide report composed of each grantee's own report (`jobs.grantee_report`,
    what the grantee's endpoint computes): what the report was before decision 150."""
    return jobs.composed(ask.quarter, (jobs.grantee_report(db, g, ask) for g in grantees), fmt)


@pytest.fixture(scope="module")
def many(
    client: TestClient[Litestar],
    auth: Callable[..., dict[str, str]],
    db: Database,
    settings: Settings,
) -> list[Grantee]:
    rich = build(client, auth, db)
    grantees = [Grantee(rich.slug, rich.schema, "America/Chicago", "Oversight grantee")]
    grantees += [small_grantee(client, auth, i) for i in range(1, GRANTEES)]
    grantees.sort(key=lambda g: g.slug)
    for g in grantees:
        projector.drain(db, g.schema)
    return grantees


def oversight(settings: Settings, slugs: list[str]) -> dict[str, str]:
    token = issue_token(
        settings, subject="test-federal_oversight", roles=["federal_oversight"], grantees=slugs
    )
    return {"Authorization": f"Bearer {token}"}


def test_the_report_over_thirty_grantees_is_each_own_report_and_their_sum(
    client: TestClient[Litestar], settings: Settings, many: list[Grantee]
) -> None:
    slugs = [g.slug for g in many]
    headers = oversight(settings, slugs)
    r = client.get(f"/v1/reports/quarterly/{Q.name}", headers=headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [row["grantee"] for row in doc["grantees"]] == slugs
    own: dict[str, Any] = {}
    for slug in slugs:
        mine = client.get(f"/v1/grantees/{slug}/reports/quarterly/{Q.name}", headers=headers)
        assert mine.status_code == 200, mine.text
        own[slug] = mine.json()
    for row in doc["grantees"]:
        assert row == own[row["grantee"]], row["grantee"]
    # Where each report stands: its own log's last applied event, in each grantee's zone.
    assert len({row["stands_at"]["position"] for row in doc["grantees"]}) > 1
    assert {row["period"]["time_zone"] for row in doc["grantees"]} == set(ZONES)

    def total(name: str) -> float:
        return sum(own[slug]["figures"][name]["value"] or 0 for slug in slugs)

    totals = doc["totals"]
    for fig in catalogue(Q):
        if fig.kind is Kind.COUNT:
            assert totals[fig.name] == total(fig.name), fig.name
        elif fig.kind is Kind.SUM:
            assert totals[fig.name] == pytest.approx(total(fig.name)), fig.name
    assert totals["enrolment.cumulative"] > GRANTEES
    assert totals["meetings.held"] > 0 and totals["exits.completed"] > 1
    for rate, num, den in (
        ("retention.rate", "retention.retained", "retention.eligible"),
        (
            "mentoring.coverage_rate",
            "mentoring.paired_participants",
            "mentoring.active_participants",
        ),
    ):
        assert total(den) > 0
        assert totals[rate] == round(total(num) / total(den), 4), rate


def test_read_together_the_report_is_byte_for_byte_the_one_read_grantee_by_grantee(
    db: Database, many: list[Grantee]
) -> None:
    ask = Ask(Q)
    for fmt in ("json", "csv", "html"):
        assert jobs.all_body(db, many, ask, fmt) == each_on_its_own(db, many, ask, fmt), fmt


def test_an_unreadable_stand_in_the_second_group_names_its_own_grantee(
    client: TestClient[Litestar],
    settings: Settings,
    db: Database,
    many: list[Grantee],
    make_grantee: Callable[[], str],
) -> None:
    """The live report decodes the event each grantee's report stands at: an altered one is a
    409 naming that grantee's log and position, not a neighbour's in the same statement."""
    slug = make_grantee()
    schema = f"g_{slug}"
    projector.drain(db, schema)
    row = db.fetchone(
        f'SELECT notification_id, state FROM "{schema}".events'
        " ORDER BY notification_id DESC LIMIT 1"
    )
    assert row is not None
    position, state = int(row[0]), bytes(row[1])
    slugs = sorted([*(g.slug for g in many), slug])
    assert slugs.index(slug) >= jobs.TOGETHER
    corrupt_event(db, schema, position)
    try:
        r = client.get(f"/v1/reports/quarterly/{Q.name}", headers=oversight(settings, slugs))
    finally:
        # Put the event back as it was: other tests of the session read every grantee's report.
        with psycopg.connect(db.url, autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(
                f'UPDATE "{schema}".events SET state = %s WHERE notification_id = %s',
                (state, position),
            )
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "log_unreadable"
    assert f"position {position} of {schema}" in r.json()["detail"]
    r = client.get(f"/v1/reports/quarterly/{Q.name}", headers=oversight(settings, slugs))
    assert r.status_code == 200, r.text


def test_the_privacy_check_finds_a_personal_field_at_any_depth() -> None:
    """The check walks the whole document (the platform-wide one is large: decision 150 walks
    it with a stack instead of a recursive generator)."""
    doc = {
        "grantees": [{"figures": {"x": {"value": 1}}}, {"stands_at": [[{"note": "n"}]]}],
        "totals": {"phone": None, "of": [1, 2]},
        "period": {"first_name": {"last_name": []}},
    }
    assert personal_keys(doc) == {"note", "phone", "first_name", "last_name"}
    assert personal_keys({"grantees": [{"figures": {"value": [1]}}]}) == set()
    with pytest.raises(PersonalDataLeak, match="note, phone"):
        privacy.check({"a": [{"phone": 1}], "b": {"note": 2}})
