"""An independent oracle: the participant, stage, exit and meeting figures of the quarterly
report, computed from the auditor's NDJSON event stream alone.

Written from docs/reports.md, deliberately simple, and sharing no code with services/reports/
or projections/ (nor domain/definitions.py): the events are plain JSON dictionaries here, keyed
by their topic's class name. Each figure is a value and, per counted unit, the set of log
positions the oracle used.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NINETY = 90


@dataclass
class Who:
    entry: date
    enrolled_at: int
    cohort: str
    moves: list[tuple[datetime, int, str, int, int]] = field(default_factory=list)
    exit: tuple[date, str, int] | None = None
    spans: list[tuple[datetime, datetime | None, str]] = field(default_factory=list)


@dataclass
class Meeting:
    pairing: str
    scheduled_for: datetime
    status: str = "scheduled"
    status_at: int = 0
    occurred_at: datetime | None = None
    held_at: list[int] = field(default_factory=list)
    attendees: list[str] = field(default_factory=list)
    excused: bool = False


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _d(text: str) -> date:
    return date.fromisoformat(text)


class World:
    """The stream folded: what each participant, pairing, meeting and mentor did."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.people: dict[str, Who] = {}
        self.graduated: dict[str, tuple[date, int]] = {}
        self.cohort_code: dict[str, str] = {}
        self.mentor_of: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        self.mentor_person: dict[str, str] = {}
        self.meetings: dict[str, Meeting] = {}
        self.opened: dict[str, tuple[datetime, datetime | None]] = {}
        for line in lines:
            kind = line["topic"].rsplit(":", 1)[-1]
            self.take(kind, line["originator_id"], line["position"], line["event"])

    def take(self, kind: str, oid: str, pos: int, e: dict[str, Any]) -> None:
        if kind == "Participant.Enrolled":
            self.people[oid] = Who(_d(e["program_entry_date"]), pos, e["cohort_code"])
        elif kind == "Participant.StageTransitioned":
            self.people[oid].moves.append(
                (_ts(e["occurred_at"]), pos, "transition", int(e["from_stage"]), int(e["to_stage"]))
            )
        elif kind == "Participant.ReturnedToCustody":
            self.people[oid].moves.append(
                (_ts(e["occurred_at"]), pos, "return", int(e["from_stage"]), 1)
            )
        elif kind == "Participant.Exited":
            self.people[oid].exit = (_d(e["exit_date"]), e["reason"], pos)
        elif kind == "Participant.PairingJoined":
            self.people[oid].spans.append((_ts(e["occurred_at"]), None, e["pairing_id"]))
        elif kind == "Participant.PairingLeft":
            spans = self.people[oid].spans
            for i, (a, b, p) in enumerate(spans):
                if p == e["pairing_id"] and b is None:
                    spans[i] = (a, _ts(e["occurred_at"]), p)
                    break
        elif kind == "Cohort.Started":
            self.cohort_code[oid] = e["code"]
        elif kind == "Cohort.Graduated":
            self.graduated[self.cohort_code[oid]] = (_d(e["graduated_on"]), pos)
        elif kind == "Mentor.Registered":
            if e.get("participant_id"):
                self.mentor_person[oid] = e["participant_id"]
        elif kind == "Pairing.Opened":
            self.mentor_of[oid] = e["mentor_id"]
            self.members[oid] = list(e["members"])
            self.opened[oid] = (_ts(e["occurred_at"]), None)
        elif kind == "Pairing.Closed":
            self.opened[oid] = (self.opened[oid][0], _ts(e["occurred_at"]))
        elif kind == "Pairing.MemberAdded":
            self.members[oid].append(e["participant_id"])
        elif kind == "Pairing.MemberRemoved":
            self.members[oid].remove(e["participant_id"])
        elif kind == "Meeting.Scheduled":
            self.meetings[oid] = Meeting(e["pairing_id"], _ts(e["scheduled_for"]))
        elif kind in ("Meeting.Held", "Meeting.Amended"):
            m = self.meetings[oid]
            record = e["record"]
            m.status, m.status_at = "held", pos
            m.occurred_at = _ts(record["occurred_at"])
            m.held_at.append(pos)
            present = sorted(
                p for p, a in (record.get("attendance") or {}).items() if a == "present"
            )
            m.attendees = present or list(self.members[m.pairing])
        elif kind == "Meeting.Missed":
            m = self.meetings[oid]
            m.status, m.status_at = "missed", pos
        elif kind == "Meeting.Cancelled":
            m = self.meetings[oid]
            m.status, m.status_at, m.excused = "cancelled", pos, bool(e.get("excused"))


Units = list[frozenset[int]]


def quarter_figures(
    lines: list[dict[str, Any]], start: date, through: date, zone: ZoneInfo
) -> dict[str, Units]:
    """Per figure name, the counted units (each the positions that made it count)."""
    w = World(lines)
    out: dict[str, Units] = defaultdict(list)

    def day(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    def count(name: str, *positions: int) -> None:
        out[name].append(frozenset(positions))

    def inq(d: date) -> bool:
        return start <= d <= through

    # Services of each participant: entry, meetings attended, graduation, meetings mentored.
    services: dict[str, list[tuple[date, int]]] = {
        pid: [(p.entry, p.enrolled_at)] for pid, p in w.people.items()
    }
    for pid, p in w.people.items():
        if p.cohort in w.graduated:
            services[pid].append(w.graduated[p.cohort])
    for m in w.meetings.values():
        if m.status != "held" or m.occurred_at is None:
            continue
        who = set(m.attendees)
        mentor = w.mentor_of.get(m.pairing)
        if mentor in w.mentor_person:
            who.add(w.mentor_person[mentor])
        for pid in who:
            if pid in services:
                services[pid].append((day(m.occurred_at), m.held_at[-1]))

    # A pairing a participant mentors is planned service for them, like one they are in.
    mentored: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for pairing, (opened, closed) in w.opened.items():
        person = w.mentor_person.get(w.mentor_of[pairing])
        if person is not None:
            mentored[person].append((opened, closed))

    def gone(pid: str, on: date) -> tuple[date, int] | None:
        p = w.people[pid]
        past = [s for s in services[pid] if s[0] <= on]
        last = max(past)
        grad = w.graduated.get(p.cohort)
        in_class = grad is None or grad[0] > on
        spans = [(a, b) for a, b, _ in p.spans] + mentored[pid]
        paired = any(day(a) <= on and (b is None or day(b) > on) for a, b in spans)
        if in_class or paired or (on - last[0]).days <= NINETY:
            return None
        return last

    for pid, p in w.people.items():
        if p.entry > through:
            continue
        count("enrolment.cumulative", p.enrolled_at)
        if inq(p.entry):
            count("enrolment.new", p.enrolled_at)
        moves = sorted(m for m in p.moves if day(m[0]) <= through)
        for at, pos, kind, a, b in moves:
            if not inq(day(at)):
                continue
            if kind == "return":
                count("returned_to_custody.total", pos)
                count(f"returned_to_custody.from_stage_{a}", pos)
            else:
                count(f"transitions.{a}_to_{b}", pos)
        entries = [m for m in moves if m[2] == "transition"]
        into = {b for *_, b in entries}
        for stage in (2, 3):
            if stage in into:
                count(f"funnel.reached_stage_{stage}", next(m[1] for m in entries if m[4] == stage))
        if 3 in into:
            name = "funnel.stage_3_via_rrc" if 2 in into else "funnel.stage_3_direct"
            count(name, *(m[1] for m in entries if m[4] in (2, 3)))
        exit_pos: int | None = None
        completed = False
        if p.exit is not None and p.exit[0] <= through:
            on, reason, pos = p.exit
            exit_pos, completed = pos, reason == "completed"
            if inq(on):
                count("exits.total", pos)
                count(f"exits.{reason}", pos)
            if completed:
                count("funnel.completed", pos)
        else:
            derived = gone(pid, through)
            if derived is not None:
                exit_pos = derived[1]
                before = start - timedelta(days=1)
                if before < p.entry or gone(pid, before) is None:
                    count("exits.total", derived[1], p.enrolled_at)
                    count("exits.derived_90_day", derived[1], p.enrolled_at)
        if exit_pos is None:
            count("enrolment.active", p.enrolled_at)
            stage = moves[-1][4] if moves else 1
            if moves:
                count(f"enrolment.stage_{stage}", p.enrolled_at, moves[-1][1])
            else:
                count(f"enrolment.stage_{stage}", p.enrolled_at)
        else:
            count("enrolment.exited", exit_pos)
        if p.entry <= through - timedelta(days=NINETY):
            count("retention.eligible", p.enrolled_at)
            if exit_pos is None or completed:
                extra = () if exit_pos is None else (exit_pos,)
                count("retention.retained", p.enrolled_at, *extra)

    active: dict[str, set[int]] = defaultdict(set)
    for m in w.meetings.values():
        if m.status == "held" and m.occurred_at is not None:
            if inq(day(m.occurred_at)):
                count("meetings.held", *m.held_at)
                active[w.mentor_of[m.pairing]].update(m.held_at)
        elif day(m.scheduled_for) <= through and inq(day(m.scheduled_for)):
            if m.status == "missed":
                count("meetings.missed", m.status_at)
            if m.status == "cancelled" and m.excused:
                count("meetings.cancelled_excused", m.status_at)
    for positions in active.values():
        count("mentors.active", *positions)
    return dict(out)


# The figures this oracle computes (a figure with no unit has the value 0).
FIGURES = (
    "enrolment.new",
    "enrolment.cumulative",
    "enrolment.active",
    "enrolment.stage_1",
    "enrolment.stage_2",
    "enrolment.stage_3",
    "enrolment.exited",
    "funnel.reached_stage_2",
    "funnel.reached_stage_3",
    "funnel.stage_3_via_rrc",
    "funnel.stage_3_direct",
    "funnel.completed",
    "transitions.1_to_2",
    "transitions.1_to_3",
    "transitions.2_to_3",
    "returned_to_custody.total",
    "returned_to_custody.from_stage_2",
    "returned_to_custody.from_stage_3",
    "exits.total",
    "exits.completed",
    "exits.derived_90_day",
    "retention.eligible",
    "retention.retained",
    "meetings.held",
    "meetings.missed",
    "meetings.cancelled_excused",
    "mentors.active",
)
