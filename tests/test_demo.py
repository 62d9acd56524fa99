"""The demo as a new user meets it: `prowd demo` run twice, its alerts on any day, its peer
mentor's token, and a CLI command run beside a running embedded server.

Each test loads the demo into a database of its own (the demo grantees have fixed slugs), with
the CLI in a child process exactly as the README says, and reads it back through the API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from litestar.testing import TestClient
from psycopg.conninfo import make_conninfo

from services.api.app import create_app
from services.demo.keys import demo_participant
from services.projector import live as projector
from services.settings import Settings
from services.store.database import Database
from tests.conftest import JWT_SECRET, SUITE_CLOCK, FreezeAt
from tests.console_helpers import csrf_of

ROOT = Path(__file__).resolve().parents[1]
DEMO = "northside_works"
# What the README promises the demo shows on GET /v1/grantees/northside_works/alerts.
PROMISED_ALERTS = {
    "missed_cadence",
    "overdue_goal",
    "open_crisis",
    "clearance_expiring",
    "debrief_due",
    "meeting_tomorrow",
    "exit_approaching",
}


@pytest.fixture
def demo_url(server_url: str) -> Iterator[str]:
    name = f"prowd_demo_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prowd(
    *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_env(data_dir: Path, url: str | None, at: datetime) -> dict[str, str]:
    """The CLI's environment: `data_dir` holds the development keys (the test app's own, where
    the test reads what the CLI wrote) or, without a URL, an embedded server of its own."""
    env = {
        **os.environ,
        "PROWD_DATA_DIR": str(data_dir),
        "PROWD_JWT_SECRET": JWT_SECRET,
        "PROWD_CLOCK": at.isoformat(),
        "PROWD_LOG_LEVEL": "warning",
    }
    env.pop("PROWD_DATABASE_URL", None)
    if url is not None:
        env["PROWD_DATABASE_URL"] = url
    return env


@contextlib.contextmanager
def demo_client(settings: Settings, url: str) -> Iterator[tuple[TestClient, Database]]:
    """The API on the demo's database, caught up with its log."""
    demo_settings = dataclasses.replace(settings, database_url=url)
    db = Database(url, demo_settings, name="prowd-demo-test").open()
    try:
        for slug in (DEMO, "harbor_bridge"):
            projector.drain(db, f"g_{slug}")
        with TestClient(create_app(demo_settings, db)) as client:
            yield client, db
    finally:
        db.close()


def events_per_grantee(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            slug: conn.execute(f'SELECT count(*) FROM "g_{slug}".events').fetchone()[0]  # type: ignore[index]
            for slug in (DEMO, "harbor_bridge")
        }


def printed_token(output: str, role: str) -> str:
    match = re.search(rf"^{role} \(.*\):\n  (\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_the_demo_loaded_twice_adds_nothing_the_second_time(
    demo_url: str, settings: Settings
) -> None:
    env = cli_env(settings.data_dir, demo_url, SUITE_CLOCK.now())
    first = prowd("demo", "--load-only", env=env)
    assert first.returncode == 0, first.stderr
    assert "demo data: 60 participants added" in first.stdout
    assert "Staff console: http://127.0.0.1:" in first.stdout and "/console/" in first.stdout
    before = events_per_grantee(demo_url)
    assert all(n > 150 for n in before.values()), before

    second = prowd("demo", "--load-only", env=env)
    assert second.returncode == 0, second.stderr
    assert "demo data: 0 participants added" in second.stdout
    assert events_per_grantee(demo_url) == before

    # The peer mentor's token is a demo mentor's: their caseload holds their own mentee.
    token = printed_token(second.stdout, "peer_mentor")
    assert "mentor Marcus W." in second.stdout
    with demo_client(settings, demo_url) as (client, _):
        r = client.get(
            f"/v1/grantees/{DEMO}/participants", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 1
        staff = client.get(
            f"/v1/grantees/{DEMO}/participants",
            headers={"Authorization": f"Bearer {printed_token(second.stdout, 'case_manager')}"},
            params={"limit": 100},
        )
        assert len(staff.json()["items"]) == 30


@pytest.mark.parametrize(
    "today",
    [
        pytest.param(datetime(2026, 12, 4, 15, tzinfo=UTC), id="2026-12-04"),
        pytest.param(datetime(2027, 1, 1, 12, tzinfo=UTC), id="2027-01-01-iso-2026-W53"),
        pytest.param(datetime(2028, 2, 29, 18, tzinfo=UTC), id="2028-02-29-leap-day"),
        # After midnight UTC, still the evening before in the grantee's zone (America/Chicago):
        # the demo's days are the grantee's, or a referral "connected today" lies in the future.
        pytest.param(datetime(2026, 12, 7, 1, 26, tzinfo=UTC), id="2026-12-07T01:26Z"),
    ],
)
def test_every_alert_kind_the_readme_promises_shows_in_the_demo_on_any_day(
    today: datetime, demo_url: str, settings: Settings, frozen_at: FreezeAt
) -> None:
    loaded = prowd("demo", "--load-only", env=cli_env(settings.data_dir, demo_url, today))
    assert loaded.returncode == 0, loaded.stderr
    frozen_at(today)
    with demo_client(settings, demo_url) as (client, _):
        token = printed_token(loaded.stdout, "coordinator")
        r = client.get(f"/v1/grantees/{DEMO}/alerts", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        kinds = {item["kind"] for item in r.json()["items"]}
    assert kinds >= PROMISED_ALERTS, PROMISED_ALERTS - kinds


@pytest.mark.parametrize(
    "today",
    [
        pytest.param(datetime(2026, 12, 7, 15, tzinfo=UTC), id="2026-12-07-monday"),
        pytest.param(datetime(2026, 12, 4, 15, tzinfo=UTC), id="2026-12-04-friday"),
    ],
)
def test_only_the_demo_group_misses_its_weekly_cadence_on_any_day(
    today: datetime, demo_url: str, settings: Settings, frozen_at: FreezeAt
) -> None:
    """The README: the individual pairing met every week up to last week (one excused), and
    only the group, whose last meeting was three weeks ago, misses its cadence. On a Monday the
    individual pairing's last meeting was once two Tuesdays back, so it missed last week too."""
    loaded = prowd("demo", "--load-only", env=cli_env(settings.data_dir, demo_url, today))
    assert loaded.returncode == 0, loaded.stderr
    frozen_at(today)
    with demo_client(settings, demo_url) as (client, _):
        auth = {"Authorization": f"Bearer {printed_token(loaded.stdout, 'coordinator')}"}
        r = client.get(
            f"/v1/grantees/{DEMO}/alerts", headers=auth, params={"kind": "missed_cadence"}
        )
        assert r.status_code == 200, r.text
        pairings = [item["subject_id"] for item in r.json()["items"]]
        kinds = [
            client.get(f"/v1/grantees/{DEMO}/pairings/{p}", headers=auth).json()["kind"]
            for p in pairings
        ]
    assert kinds == ["group"], r.json()["items"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_cli_command_beside_a_running_embedded_server_leaves_it_running(tmp_path: Path) -> None:
    """`prowd verify` and `prowd token` on the data folder of a running `prowd demo` use the
    same embedded server and, when they end, leave it up: the service still answers."""
    env = cli_env(tmp_path / "data", None, SUITE_CLOCK.now())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "demo", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready_within(base, 120, serve)
        verify = prowd("verify", env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "intact" in verify.stdout + verify.stderr
        for path in ("/ready", "/health"):
            assert httpx.get(base + path, timeout=5).status_code == 200, path
        r = httpx.get(f"{base}/v1/grantees", timeout=5)
        assert r.status_code == 401  # the database answered: only the token is missing
        # `prowd token` as the README's walk-through runs it beside the demo: it looks the
        # grantee up on the same embedded server, and the service takes the token.
        token = prowd("token", "--grantee", DEMO, "--role", "coordinator", env=env)
        assert token.returncode == 0, token.stdout + token.stderr
        bearer = {"Authorization": f"Bearer {token.stdout.splitlines()[-1]}"}
        r = httpx.get(f"{base}/v1/grantees/{DEMO}/alerts", headers=bearer, timeout=10)
        assert r.status_code == 200, r.text
        nosuch = prowd("token", "--grantee", "nosuch", "--role", "coordinator", env=env)
        assert (nosuch.returncode, nosuch.stdout) == (2, ""), nosuch.stderr
        assert "prowd token: no grantee 'nosuch'" in nosuch.stderr
        # The README's walk-through works as written: the console's sign-in offers its grantee,
        # and RRC staff sign in with its RRC and see their residents.
        with httpx.Client(base_url=base, timeout=10) as console:
            page = console.get("/console/sign-in").text
            assert f'<option value="{DEMO}" selected>' in page
            signed = console.post(
                "/console/sign-in",
                data={
                    "role": "rrc_staff",
                    "grantee": DEMO,
                    "rrc": "RRC-N1",
                    "_csrf_token": csrf_of(console),
                },
            )
            assert signed.status_code == 303, signed.text
            residents = console.get("/console/rrc")
            assert residents.status_code == 200 and "RRC-N1" in residents.text
    finally:
        serve.terminate()
        serve.wait(30)


def ready_within(base: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "prowd demo exited early"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise AssertionError(f"{base} never became ready")


def test_the_demo_report_agrees_with_its_caseload(demo_url: str, settings: Settings) -> None:
    """The demo's findings of issue 17: the caseload shows exited exactly those the report
    counts as exited; graduate mentors who mentor are not derived-exited; stage 3 splits into
    through an RRC and released directly; a derived exit drills down per participant."""
    loaded = prowd(
        "demo", "--load-only", env=cli_env(settings.data_dir, demo_url, SUITE_CLOCK.now())
    )
    assert loaded.returncode == 0, loaded.stderr
    oversight = {"Authorization": f"Bearer {printed_token(loaded.stdout, 'federal_oversight')}"}
    staff = {"Authorization": f"Bearer {printed_token(loaded.stdout, 'coordinator')}"}
    with demo_client(settings, demo_url) as (client, db):
        base = f"/v1/grantees/{DEMO}"
        r = client.get(f"{base}/reports/quarterly/2026Q4", headers=oversight)
        assert r.status_code == 200, r.text
        f = {k: v["value"] for k, v in r.json()["figures"].items()}
        rows = client.get(f"{base}/participants", headers=staff, params={"limit": 100}).json()
        exited = [row for row in rows["items"] if row["status"] == "exited"]
        assert len(exited) == f["enrolment.exited"]
        # "a few exited" (README): a new case manager opens a caseload that is mostly active.
        assert 1 <= len(exited) <= 8 and len(rows["items"]) == 30, len(exited)
        registered = db.fetchall(
            f'SELECT state FROM "g_{DEMO}".events WHERE topic LIKE %s', ("%Mentor.Registered",)
        )
        mentoring = {json.loads(bytes(s))["participant_id"] for (s,) in registered} - {None}
        assert mentoring, "the demo has graduate mentors"
        # Graduate mentors who mentor an open pairing stay active (planned service).
        open_as_mentor = {
            str(r[0])
            for r in db.fetchall(
                f'SELECT m.participant_id FROM "g_{DEMO}".ov_mentors_b1 m'
                f' JOIN "g_{DEMO}".ov_pairings_b1 p ON p.mentor_id = m.mentor_id'
                " WHERE p.closed_at IS NULL AND m.participant_id IS NOT NULL"
            )
        }
        assert open_as_mentor and open_as_mentor <= mentoring
        assert not open_as_mentor & {row["id"] for row in exited}
        assert (
            f["funnel.reached_stage_3"] == f["funnel.stage_3_via_rrc"] + f["funnel.stage_3_direct"]
        )
        assert f["funnel.stage_3_direct"] > 0
        d = client.get(
            f"{base}/reports/quarterly/2026Q4/figures/exits.derived_90_day", headers=oversight
        )
        assert d.status_code == 200, d.text
        units = d.json()["units"]
        assert len(units) == f["exits.derived_90_day"]
        assert all(len(u) == 2 for u in units)


def test_one_participants_services_read_alone_equal_those_read_with_everyone(
    demo_url: str, settings: Settings
) -> None:
    """`load_person` (a command's derived-exit check, decision 97) reads only the facts that
    concern one participant; for every demo participant (graduate mentors, groups, meetings,
    contacts, moves, exits) it gives what `load_people` gives from every fact."""
    from zoneinfo import ZoneInfo

    from projections.service import load_people, load_person
    from services.projector.serving import live_tables

    loaded = prowd(
        "demo", "--load-only", env=cli_env(settings.data_dir, demo_url, SUITE_CLOCK.now())
    )
    assert loaded.returncode == 0, loaded.stderr
    with demo_client(settings, demo_url) as (_, db):
        for slug, zone in ((DEMO, "America/Chicago"), ("harbor_bridge", "America/New_York")):
            schema = f"g_{slug}"
            t = live_tables(db, schema, "oversight", None, 0)
            everyone = load_people(db, t, ZoneInfo(zone))
            assert len(everyone) >= 30
            for pid, person in everyone.items():
                assert load_person(db, t, ZoneInfo(zone), pid) == person, pid


def audit_events(client: TestClient, token: str) -> list[dict[str, object]]:
    """The grantee's whole log through the auditor's NDJSON stream, in log order."""
    events: list[dict[str, object]] = []
    after = 0
    while True:
        r = client.get(
            f"/v1/grantees/{DEMO}/audit/events",
            headers={"Authorization": f"Bearer {token}"},
            params={"after": after, "limit": 10_000},
        )
        assert r.status_code == 200, r.text
        events += [json.loads(line) for line in r.text.splitlines() if line]
        if r.headers["X-Next-After"] == str(after):
            return events
        after = int(r.headers["X-Next-After"])


def test_the_demo_history_happens_in_order_over_the_past(
    demo_url: str, settings: Settings, frozen_at: FreezeAt
) -> None:
    """Each demo act is recorded on its simulated day (the evening before in Chicago at
    01:26 UTC): the recorded times span the past, rise with the log position and end at the
    load; a replay and an auditor's view a week back show less than now, but not nothing."""
    loaded_at = datetime(2026, 12, 7, 1, 26, tzinfo=UTC)
    loaded = prowd("demo", "--load-only", env=cli_env(settings.data_dir, demo_url, loaded_at))
    assert loaded.returncode == 0, loaded.stderr
    later = loaded_at + timedelta(hours=1)
    frozen_at(later, tick=True)
    auditor = printed_token(loaded.stdout, "auditor")
    with demo_client(settings, demo_url) as (client, _):
        events = audit_events(client, auditor)
        times = [datetime.fromisoformat(str(e["recorded_at"])) for e in events]
        assert [e["position"] for e in events] == sorted(e["position"] for e in events)
        assert times == sorted(times), "recorded times rise with the log position"
        assert times[0] < loaded_at - timedelta(days=365) and times[-1] <= later
        # Most of the history lies before the last week; some of it within it.
        week_ago = loaded_at - timedelta(days=7)
        recent = sum(t > week_ago for t in times)
        assert 0 < recent < len(times) // 10, (recent, len(times))
        # A meeting is booked before it is held, and held before it is recorded held.
        booked: dict[object, datetime] = {}
        for e, at in zip(events, times, strict=True):
            topic = str(e["topic"])
            if topic.endswith("Meeting.Scheduled"):
                booked[e["originator_id"]] = at
            elif topic.endswith("Meeting.Held"):
                record = e["event"]["record"]  # type: ignore[index]
                held_at = datetime.fromisoformat(record["occurred_at"])
                assert booked[e["originator_id"]] < held_at < at
        assert booked
        # The auditor's view of a participant a week back, and before the grantee opened.
        rosa = demo_participant("N", 0)
        path = f"/v1/grantees/{DEMO}/audit/participants/{rosa}"
        then = client.get(
            path,
            headers={"Authorization": f"Bearer {auditor}"},
            params={"as_of": week_ago.isoformat()},
        )
        assert then.status_code == 200, then.text
        assert datetime.fromisoformat(then.json()["recorded_at"]) < week_ago
        before = client.get(
            path,
            headers={"Authorization": f"Bearer {auditor}"},
            params={"as_of": "2023-01-01T00:00:00Z"},
        )
        assert before.status_code == 404, before.text
    env = cli_env(settings.data_dir, demo_url, later)
    replayed = {}
    for name, at in (("week", week_ago), ("now", later)):
        r = prowd("replay", "--grantee", DEMO, "--as-of", at.isoformat(), env=env)
        assert r.returncode == 0, r.stderr
        found = re.search(r"(\d+) events replayed", r.stdout)
        assert found, r.stdout
        replayed[name] = int(found.group(1))
    assert 0 < replayed["week"] < replayed["now"] == len(events), replayed


def test_the_demo_mentors_are_graduates_and_its_summaries_are_words(
    demo_url: str, settings: Settings
) -> None:
    """Every graduate mentor is the record of a participant whose cohort graduated and who
    has left stage 1, so the first participant (stage 1) can be paired with one; meeting
    summaries name their topics in words, not codes."""
    loaded = prowd(
        "demo", "--load-only", env=cli_env(settings.data_dir, demo_url, SUITE_CLOCK.now())
    )
    assert loaded.returncode == 0, loaded.stderr
    staff = {"Authorization": f"Bearer {printed_token(loaded.stdout, 'coordinator')}"}
    with demo_client(settings, demo_url) as (client, _):
        base = f"/v1/grantees/{DEMO}"
        roster = client.get(f"{base}/mentors", headers=staff, params={"limit": 100}).json()
        mentors = [
            client.get(f"{base}/mentors/{row['id']}", headers=staff).json()
            for row in roster["items"]
        ]
        records = [m["participant_id"] for m in mentors if m["participant_id"]]
        assert len(records) == 4, mentors
        for pid in records:
            person = client.get(f"{base}/participants/{pid}", headers=staff).json()
            cohort = client.get(f"{base}/cohorts/{person['cohort']}", headers=staff).json()
            assert cohort["graduated_on"] is not None, (person, cohort)
            assert person["stage"] > 1, person
        first = demo_participant("N", 0)
        rosa = client.get(f"{base}/participants/{first}", headers=staff).json()
        assert rosa["stage"] == 1 and rosa["status"] == "active", rosa
        options = client.get(
            f"{base}/participants/{first}/mentor-options",
            headers=staff,
            params={"eligible": True},
        )
        assert options.status_code == 200, options.text
        assert {o["display_name"] for o in options.json()["items"]} >= {"Marcus W."}
        auditor = printed_token(loaded.stdout, "auditor")
        summaries = [
            e["event"]["record"]["summary"]  # type: ignore[index]
            for e in audit_events(client, auditor)
            if str(e["topic"]).endswith("Meeting.Held")
        ]
        assert len(summaries) >= 10
        coded = [s for s in summaries if re.search(r"[a-z]_[a-z]", s)]
        assert not coded, coded
