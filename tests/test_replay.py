"""`prowd replay --as-of`: the views as they stood at an instant, from the log alone; and
`prowd projections rebuild`: every view rebuilt in one batched pass and switched at once.

The CLI's command functions are called directly (not `main()`, which reconfigures logging)."""

from __future__ import annotations

import io
import time
from argparse import Namespace

import psycopg
import pytest
from psycopg import sql

from domain import clock
from projections.registry import PROJECTIONS
from services.cli.progress import Progress
from services.cli.views import _rebuild_in_parallel, cmd_projections, cmd_replay
from services.projector import live as projector
from services.projector import rebuilds
from tests.people import birth_date

TO_COMMUNITY = {"to_stage": 3, "occurred_at": "2026-03-01T09:00:00Z"}
TO_CUSTODY = {"to_stage": 1, "returned_to_custody": True, "occurred_at": "2026-04-01T09:00:00Z"}


def digest(settings, grantee, capsys) -> list[str]:
    """What `prowd projections digest --grantee SLUG` prints (it catches the views up first)."""
    capsys.readouterr()  # drop the request log of the commands before
    assert cmd_projections(Namespace(action="digest", grantee=grantee, view=""), settings) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith(grantee)]


def replay(settings, grantee, as_of: str, capsys) -> tuple[int, list[str], list[str], str]:
    capsys.readouterr()
    code = cmd_replay(Namespace(grantee=grantee, as_of=as_of), settings)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    digests = [line for line in lines if line.startswith(f"{grantee}\t")]
    notes = [line for line in lines if line.startswith("# ")]
    return code, digests, notes, captured.err


def head(db, grantee) -> int:
    row = db.fetchone(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(f"g_{grantee}")
        )
    )
    return int(row[0])


def live_state(db, grantee):
    """The live builds and every table of the grantee's schema."""
    s = sql.Identifier(f"g_{grantee}")
    views = db.fetchall(sql.SQL("SELECT view, version FROM {}.active_views ORDER BY 1").format(s))
    tracking = db.fetchall(sql.SQL("SELECT * FROM {}.tracking ORDER BY 1, 2").format(s))
    tables = db.fetchall(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (f"g_{grantee}",)
    )
    return views, tracking, tables


def test_replay_as_of_an_instant_between_two_events_gives_the_digests_the_live_views_had(
    client, auth, grantee, enrol, db, settings, capsys
):
    h = auth("case_manager", grantee)
    first = enrol()
    url = f"/v1/grantees/{grantee}/participants/{first['id']}/stage-transitions"
    assert client.post(url, json=TO_COMMUNITY, headers=h).status_code == 201
    then = digest(settings, grantee, capsys)
    position_then = head(db, grantee)
    moment = clock.now()
    time.sleep(0.01)
    # Later events: a return to custody and a second participant.
    assert client.post(url, json=TO_CUSTODY, headers=h).status_code == 201
    enrol(first_name="Bea")
    now = digest(settings, grantee, capsys)
    assert now != then  # the later events changed the views
    before = live_state(db, grantee)

    code, digests, notes, _ = replay(settings, grantee, moment.isoformat(), capsys)
    assert code == 0
    assert digests == then
    assert len(digests) == len(PROJECTIONS)
    assert notes == [
        f"# {grantee} as of {moment.isoformat()}: {position_then} events replayed,"
        f" stopped at position {position_then}"
    ]
    # The same instant written in another offset and with a "Z".
    assert replay(settings, grantee, moment.astimezone().isoformat(), capsys)[1] == then
    zulu = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert replay(settings, grantee, zulu, capsys)[1] == then
    # As of now: the live views.
    assert replay(settings, grantee, clock.now().isoformat(), capsys)[1] == now
    # Before the grantee's first event: every view empty, position 0.
    code, empty, notes, _ = replay(settings, grantee, "2001-01-01T00:00:00Z", capsys)
    assert code == 0 and empty != then
    assert notes[0].endswith(": 0 events replayed, stopped at position 0")
    # Replays left the live views, their tracking and the schema's tables as they were.
    assert live_state(db, grantee) == before
    assert digest(settings, grantee, capsys) == now


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2026-03-01",
        "2026-03-01T09:00:00",  # no offset: which instant?
        "2026-13-01T09:00:00Z",
        "2026-02-30T09:00:00Z",
        "2026-03-01T09:00:00+25:00",
        "",
    ],
)
def test_a_malformed_instant_is_refused_with_a_clear_message(grantee, db, settings, capsys, bad):
    before = live_state(db, grantee)
    code, digests, notes, err = replay(settings, grantee, bad, capsys)
    assert code == 2
    assert digests == [] and notes == []
    assert err.startswith(f"prowd replay: --as-of {bad!r}: ")
    assert "RFC 3339" in err or "not a valid date-time" in err
    assert live_state(db, grantee) == before


def test_replay_of_an_unknown_grantee_fails(settings, capsys):
    code, digests, _, err = replay(settings, "no_such_grantee", "2026-03-01T09:00:00Z", capsys)
    assert code == 2 and digests == []
    assert "no grantee 'no_such_grantee'" in err


def test_rebuild_switches_every_view_at_once_and_equals_the_live_views(
    client, auth, grantee, enrol, db, settings, capsys
):
    h = auth("case_manager", grantee)
    for i in range(3):
        pid = enrol(first_name=f"P{i}")["id"]
        url = f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions"
        assert client.post(url, json=TO_COMMUNITY, headers=h).status_code == 201
    live = digest(settings, grantee, capsys)
    versions = dict(live_state(db, grantee)[0])
    args = Namespace(action="rebuild", grantee=grantee, view="")
    capsys.readouterr()
    assert cmd_projections(args, settings) == 0
    err = capsys.readouterr().err
    # stderr is not a terminal here: no progress bar, one summary line and the switch.
    assert "\r" not in err
    summary, switched = err.splitlines()
    assert summary.startswith(f"{grantee}: rebuild: {head(db, grantee)} events in ")
    assert summary.endswith(" events/s)")
    assert switched.startswith(f"{grantee}: switched to builds ")
    rebuilt = dict(live_state(db, grantee)[0])
    assert rebuilt == {view: version + 1 for view, version in versions.items()}
    assert digest(settings, grantee, capsys) == live
    # The rebuilt builds go on live.
    enrol(first_name="Later")
    schema = f"g_{grantee}"
    projector.drain(db, schema)
    assert projector.lowest_position(db, schema) == head(db, grantee)
    # An unknown view is refused.
    bad = Namespace(action="rebuild", grantee=grantee, view="no_such_view")
    capsys.readouterr()
    assert cmd_projections(bad, settings) == 2
    err = capsys.readouterr().err
    assert "no view 'no_such_view'; the views: caseload, directory," in err, err


def test_a_parallel_rebuild_rebuilds_each_grantee_in_its_own_process(
    client, auth, make_grantee, db, settings, database_url, capsys
):
    slugs = [make_grantee(), make_grantee()]
    for slug in slugs:
        body = {
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        r = client.post(
            f"/v1/grantees/{slug}/participants", json=body, headers=auth("coordinator", slug)
        )
        assert r.status_code == 201
    live = {slug: digest(settings, slug, capsys) for slug in slugs}
    versions = {slug: dict(live_state(db, slug)[0]) for slug in slugs}
    total = Progress("rebuild of all grantees")
    assert _rebuild_in_parallel(db, database_url, settings, slugs, "", 2, total) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "rebuild" in line]
    assert len(lines) == 3, lines
    assert sorted(line.split(":")[0] for line in lines[:2]) == sorted(slugs)
    assert all("; switched to builds caseload " in line for line in lines[:2]), lines
    events = sum(head(db, slug) for slug in slugs)
    assert lines[2].startswith(f"rebuild of all grantees: {events} events in ")
    for slug in slugs:
        assert dict(live_state(db, slug)[0]) == {v: n + 1 for v, n in versions[slug].items()}
        assert digest(settings, slug, capsys) == live[slug]


def test_a_second_rebuild_of_a_grantee_is_refused_while_one_runs(grantee, db, settings, capsys):
    schema = f"g_{grantee}"
    before = live_state(db, grantee)
    with psycopg.connect(db.url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (rebuilds.rebuild_lock_key(schema),))
        with pytest.raises(rebuilds.RebuildRunning):
            rebuilds.rebuild(db, schema, "caseload")
        capsys.readouterr()
        args = Namespace(action="rebuild", grantee=grantee, view="")
        assert cmd_projections(args, settings) == 1
        assert f"a rebuild of {schema} is already running" in capsys.readouterr().err
        assert live_state(db, grantee) == before
        other.execute("SELECT pg_advisory_unlock(%s)", (rebuilds.rebuild_lock_key(schema),))
    caseload = dict(before[0])["caseload"]
    assert rebuilds.rebuild(db, schema, "caseload") == caseload + 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_rate_and_time_left_on_a_terminal_only():
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress("g: rebuild", stream=stream)
        bar(500, 2000)
        bar(2000, 2000)
        bar.finish(2000)
    drawn = tty.getvalue()
    assert "\rg: rebuild: [" in drawn
    assert "500/2000 events" in drawn and "events/s" in drawn and "s left" in drawn
    assert "[##############################] 2000/2000 events" in drawn
    assert pipe.getvalue().count("\n") == 1
    assert pipe.getvalue().startswith("g: rebuild: 2000 events in ")
