"""An independent oracle: every figure of the quarterly report, computed from the auditor's
NDJSON event stream alone.

Written from docs/reports.md, deliberately simple, and sharing no code with services/reports/
or projections/ (nor domain/definitions.py): the events are plain JSON dictionaries here, keyed
by their topic's class name. Each figure is a value and, per counted unit, the set of log
positions the oracle used. `figure_kinds` names every figure the oracle knows; the test
requires it to be exactly the report's list, so a new figure without an oracle counterpart
fails.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NINETY = 90
# A meeting (not cancelled) scheduled for one of the next 14 days is planned service.
SOON = 14
MODULES = {
    "communication_skills",
    "crisis_management",
    "cultural_sensitivity",
    "mentoring_techniques",
    "boundaries_and_confidentiality",
    "conflict_resolution",
}
EXIT_REASONS = (
    "completed",
    "no_service_90_days",
    "institutionalized",
    "health_medical",
    "deceased",
    "relocated",
    "declined_services",
    "other",
)
HORIZONS = ("weekly", "short_term", "long_term")
# The kinds of session held under a facility's approval (a plain meeting is "mentoring").
SESSIONS = ("class_session", "graduate_speaker")
ESCALATIONS = ("boundary_concern", "crisis", "safety", "relapse_risk", "conflict")


@dataclass
class Who:
    entry: date
    enrolled_at: int
    cohort: str
    moves: list[tuple[datetime, int, str, int, int]] = field(default_factory=list)
    exit: tuple[date, str, int] | None = None
    spans: list[tuple[datetime, datetime | None, str, int]] = field(default_factory=list)


@dataclass
class Meeting:
    pairing: str
    scheduled_for: datetime
    status: str = "scheduled"
    status_at: int = 0
    occurred_at: datetime | None = None
    minutes: int = 0
    held_at: list[int] = field(default_factory=list)
    attendees: list[str] = field(default_factory=list)
    excused: bool = False
    week: str = ""
    session: str = "mentoring"


@dataclass
class ClassRequest:
    """A request to a facility for class sessions: asked, decided, perhaps revoked."""

    asked: date
    position: int
    decision: tuple[str, date, int] | None = None
    revoked: tuple[date, int] | None = None


@dataclass
class MentorRecord:
    registered: datetime
    position: int
    person: str | None
    certified: tuple[datetime, int] | None = None
    trainings: list[tuple[int, str, date, float]] = field(default_factory=list)


@dataclass
class GoalRecord:
    set_at: datetime
    position: int
    horizon: str
    closed: tuple[str, datetime, int] | None = None


@dataclass
class EscalationRecord:
    kind: str
    raised: datetime
    position: int
    resolved: tuple[datetime, int] | None = None


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _d(text: str) -> date:
    return date.fromisoformat(text)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class World:
    """The stream folded: what each participant, pairing, meeting and mentor did."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.people: dict[str, Who] = {}
        self.graduated: dict[str, tuple[date, int]] = {}
        self.cohort_code: dict[str, str] = {}
        self.mentor_of: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        self.mentors: dict[str, MentorRecord] = {}
        self.meetings: dict[str, Meeting] = {}
        self.opened: dict[str, tuple[datetime, int, datetime | None]] = {}
        self.goals: dict[str, GoalRecord] = {}
        self.escalations: dict[str, EscalationRecord] = {}
        self.feedback: list[tuple[date, int, list[int]]] = []
        self.mentoring_counts = True
        # case-management contacts and referral connections: participant -> (day, position)
        self.other: dict[str, list[tuple[date, int]]] = defaultdict(list)
        self.referral_of: dict[str, str] = {}
        self.requests: dict[str, ClassRequest] = {}
        for line in lines:
            kind = line["topic"].rsplit(":", 1)[-1]
            self.take(kind, line["originator_id"], line["position"], line["event"])

    @property
    def mentor_person(self) -> dict[str, str]:
        return {m: r.person for m, r in self.mentors.items() if r.person is not None}

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
            self.people[oid].spans.append((_ts(e["occurred_at"]), None, e["pairing_id"], pos))
        elif kind == "Participant.PairingLeft":
            spans = self.people[oid].spans
            for i, (a, b, p, at) in enumerate(spans):
                if p == e["pairing_id"] and b is None:
                    spans[i] = (a, _ts(e["occurred_at"]), p, at)
                    break
        elif kind == "Cohort.Started":
            self.cohort_code[oid] = e["code"]
        elif kind == "Cohort.Graduated":
            self.graduated[self.cohort_code[oid]] = (_d(e["graduated_on"]), pos)
        elif kind == "Mentor.Registered":
            self.mentors[oid] = MentorRecord(_ts(e["occurred_at"]), pos, e.get("participant_id"))
        elif kind == "Mentor.Certified":
            if self.mentors[oid].certified is None:
                self.mentors[oid].certified = (_ts(e["occurred_at"]), pos)
        elif kind == "Mentor.TrainingCompleted":
            r = e["record"]
            self.mentors[oid].trainings.append(
                (pos, r["module"], _d(r["completed_on"]), float(r["hours"]))
            )
        elif kind == "Pairing.Opened":
            self.mentor_of[oid] = e["mentor_id"]
            self.members[oid] = list(e["members"])
            self.opened[oid] = (_ts(e["occurred_at"]), pos, None)
        elif kind == "Pairing.Closed":
            a, at, _ = self.opened[oid]
            self.opened[oid] = (a, at, _ts(e["occurred_at"]))
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
            m.minutes = int(record.get("duration_minutes") or 0)
            m.held_at.append(pos)
            present = sorted(
                p for p, a in (record.get("attendance") or {}).items() if a == "present"
            )
            m.attendees = present or list(self.members[m.pairing])
            # What kind of session it was, as last recorded (a plain meeting unless told).
            m.session = record.get("session") or "mentoring"
        elif kind == "Meeting.Missed":
            m = self.meetings[oid]
            m.status, m.status_at = "missed", pos
        elif kind == "Meeting.Cancelled":
            m = self.meetings[oid]
            m.status, m.status_at, m.excused = "cancelled", pos, bool(e.get("excused"))
            m.week = e["week"]
        elif kind == "Goal.Set":
            self.goals[oid] = GoalRecord(_ts(e["occurred_at"]), pos, e["terms"]["horizon"])
        elif kind in ("Goal.Achieved", "Goal.Abandoned"):
            status = "achieved" if kind == "Goal.Achieved" else "abandoned"
            self.goals[oid].closed = (status, _ts(e["occurred_at"]), pos)
        elif kind == "Escalation.Raised":
            self.escalations[oid] = EscalationRecord(e["type"], _ts(e["occurred_at"]), pos)
        elif kind == "Escalation.Resolved":
            self.escalations[oid].resolved = (_ts(e["occurred_at"]), pos)
        elif kind == "Feedback.Given":
            scores = [int(r["score"]) for r in e["ratings"]]
            self.feedback.append((_d(e["given_on"]), pos, scores))
        elif kind == "CaseManagementContact":
            self.other[oid].append((_d(e["contacted_on"]), pos))
        elif kind == "Referral.Made":
            self.referral_of[oid] = e["participant_id"]
        elif kind == "Referral.Connected":
            self.other[self.referral_of[oid]].append((_d(e["connected_on"]), pos))
        elif kind == "ClassSessionRequest.Requested":
            self.requests[oid] = ClassRequest(_d(e["requested_on"]), pos)
        elif kind == "ClassSessionRequest.Approved":
            self.requests[oid].decision = ("approved", _d(e["approved_on"]), pos)
        elif kind == "ClassSessionRequest.Denied":
            self.requests[oid].decision = ("denied", _d(e["denied_on"]), pos)
        elif kind == "ClassSessionRequest.Revoked":
            self.requests[oid].revoked = (_d(e["revoked_on"]), pos)
        elif kind in ("ProgramPolicy.Set", "ProgramPolicy.Changed"):
            self.mentoring_counts = bool(e["rules"].get("mentoring_is_service", True))


Item = tuple[float, frozenset[int]]


def quarter_weeks(start: date, end: date) -> list[str]:
    """The ISO weeks whose Thursday falls between `start` and `end`."""
    out = []
    day = start
    while day <= end:
        if day.weekday() == 3:
            out.append(iso_week(day))
        day += timedelta(days=1)
    return out


def quarter_end(start: date) -> date:
    month = start.month + 3
    year = start.year + (month > 12)
    return date(year, (month - 1) % 12 + 1, 1) - timedelta(days=1)


def figure_kinds(start: date) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every figure of a quarter's report: its kind and the bases it is computed from."""
    k: dict[str, tuple[str, tuple[str, ...]]] = {}

    def put(name: str, kind: str = "count", *bases: str) -> None:
        k[name] = (kind, bases or (name,))

    for name in ("new", "cumulative", "active", "stage_1", "stage_2", "stage_3", "exited"):
        put(f"enrolment.{name}")
    put("funnel.enrolled", "count", "enrolment.cumulative")
    for name in ("reached_stage_2", "reached_stage_3", "stage_3_via_rrc", "stage_3_direct"):
        put(f"funnel.{name}")
    put("funnel.completed")
    for key in ("1_to_2", "1_to_3", "2_to_2", "2_to_3"):
        put(f"transitions.{key}")
    for name in ("total", "from_stage_2", "from_stage_3"):
        put(f"returned_to_custody.{name}")
    put("exits.total")
    for reason in EXIT_REASONS:
        put(f"exits.{reason}")
    put("exits.derived_90_day")
    put("retention.eligible")
    put("retention.retained")
    put("retention.rate", "rate", "retention.retained", "retention.eligible")
    put("mentoring.active_participants")
    put("mentoring.paired_participants")
    put(
        "mentoring.coverage_rate",
        "rate",
        "mentoring.paired_participants",
        "mentoring.active_participants",
    )
    put("mentoring.first_pairings", "count", "first_pairing")
    put("mentoring.days_to_first_pairing_mean", "mean", "first_pairing")
    put("mentoring.days_to_first_pairing_median", "median", "first_pairing")
    put("meetings.held")
    put("meetings.hours", "sum", "meetings.held")
    put("meetings.missed")
    put("meetings.cancelled_excused")
    for status in ("met", "missed", "excused", "pending"):
        put(f"cadence.weeks_{status}")
    put("cadence.compliance_rate", "rate", "cadence.weeks_met", "cadence.due")
    for week in quarter_weeks(start, quarter_end(start)):
        for status in ("met", "missed", "excused"):
            put(f"cadence.week.{week}.{status}")
    for name in ("requested", "approved", "denied", "revoked", "approvals_in_force"):
        put(f"class_sessions.{name}")
    for session in SESSIONS:
        put(f"class_sessions.{session}_held")
        put(f"class_sessions.{session}_hours", "sum", f"class_sessions.{session}_held")
    for name in ("registered", "registered_new", "certified", "certified_new", "active"):
        put(f"mentors.{name}")
    put("training.modules_completed", "count", "training")
    put("training.hours", "sum", "training")
    put("training.mentors_complete")
    put("training.completion_rate", "rate", "training.mentors_complete", "mentors.registered")
    for what in ("set", "achieved"):
        for horizon in HORIZONS:
            put(f"goals.{what}.{horizon}")
    put("goals.set.total")
    put("goals.achieved.total")
    for kind in ESCALATIONS:
        put(f"escalations.raised.{kind}")
        put(f"escalations.hours_to_resolve_mean.{kind}", "mean", f"escalations.resolved.{kind}")
    put("escalations.raised.total")
    put("escalations.resolved.total")
    put("escalations.open_at_end")
    put("escalations.hours_to_resolve_mean", "mean", "escalations.resolved.total")
    put("escalations.hours_to_resolve_median", "median", "escalations.resolved.total")
    put("feedback.responses", "count", "feedback.score_count")
    put("feedback.mean_rating", "ratio", "feedback.score_sum", "feedback.score_count")
    return k


PLACES = {"sum": 2, "mean": 2, "median": 2, "rate": 4, "ratio": 2, "count": 0}


def evaluate(
    kind: str, bases: tuple[str, ...], items: dict[str, list[Item]]
) -> tuple[float | None, list[frozenset[int]]]:
    """A figure's value (unrounded) and its units (those of its first base)."""
    first = items.get(bases[0], [])
    amounts = [a for a, _ in first]
    value: float | None
    if kind == "count":
        value = len(first)
    elif kind == "sum":
        value = math.fsum(amounts)
    elif kind == "mean":
        value = math.fsum(amounts) / len(amounts) if amounts else None
    elif kind == "median":
        value = statistics.median(amounts) if amounts else None
    elif kind == "rate":
        below = len(items.get(bases[1], []))
        value = len(first) / below if below else None
    else:
        total = math.fsum(a for a, _ in items.get(bases[1], []))
        value = math.fsum(amounts) / total if total else None
    return value, [u for _, u in first]


class Oracle:
    """The items of one quarter, figure by figure, through a day."""

    def __init__(
        self, lines: list[dict[str, Any]], start: date, through: date, zone: ZoneInfo
    ) -> None:
        self.w = World(lines)
        self.start, self.through, self.zone = start, through, zone
        self.items: dict[str, list[Item]] = defaultdict(list)
        self.services = self._services()
        self._exits: dict[str, tuple[date, tuple[date, int]] | None] = {}
        self._participants()
        self._meetings()
        self._cadence()
        self._class_sessions()
        self._mentors()
        self._goals_escalations_feedback()

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def inq(self, d: date) -> bool:
        return self.start <= d <= self.through

    def count(self, name: str, *positions: int, amount: float = 1.0) -> None:
        self.items[name].append((amount, frozenset(positions)))

    def figures(self) -> dict[str, tuple[float | None, list[frozenset[int]]]]:
        return {
            name: evaluate(kind, bases, self.items)
            for name, (kind, bases) in figure_kinds(self.start).items()
        }

    # -- participants -------------------------------------------------------------------
    def _services(self) -> dict[str, list[tuple[date, int]]]:
        """Each participant's services: entry, graduation, meetings attended or mentored."""
        w = self.w
        out = {pid: [(p.entry, p.enrolled_at), *w.other[pid]] for pid, p in w.people.items()}
        for pid in w.people:
            ended = self.classes_ended(pid)
            if ended is not None:
                out[pid].append(ended)
        for m in w.meetings.values():
            if m.status != "held" or m.occurred_at is None:
                continue
            who = set(m.attendees)
            mentor = w.mentor_of.get(m.pairing)
            if w.mentoring_counts and mentor in w.mentor_person:
                who.add(w.mentor_person[mentor])
            for pid in who:
                if pid in out:
                    out[pid].append((self.day(m.occurred_at), m.held_at[-1]))
        return out

    def classes_ended(self, pid: str) -> tuple[date, int] | None:
        """When the participant's class hours ended, and the event that ended them: the
        cohort's graduation, or their first move out of stage 1 when that came earlier (a tie
        goes to the graduation)."""
        p = self.w.people[pid]
        grad = self.w.graduated.get(p.cohort)
        outs = [
            (self.day(at), pos) for at, pos, kind, a, _ in p.moves if kind != "return" and a == 1
        ]
        left = min(outs) if outs else None
        if left is not None and (grad is None or left[0] < grad[0]):
            return left
        return grad

    def expects(self, m: Meeting, pid: str) -> bool:
        """Whether `pid` is expected at meeting `m`: a member of its pairing, or its mentor."""
        mentor = self.w.mentor_of[m.pairing]
        mentors = self.w.mentoring_counts and self.w.mentor_person.get(mentor) == pid
        return pid in self.w.members[m.pairing] or mentors

    def gone(self, pid: str, on: date) -> tuple[date, int] | None:
        """The derived exit standing on `on`: (last service date, its position). It holds from
        the first day with more than 90 days since the last service and nothing planned, and
        stays: a later service does not undo it."""
        if pid not in self._exits:
            self._exits[pid] = self._first_exit(pid)
        first = self._exits[pid]
        return first[1] if first is not None and first[0] <= on else None

    def _first_exit(self, pid: str) -> tuple[date, tuple[date, int]] | None:
        """(the day the exit takes effect, the last service before it), scanning day by day
        up to the last day of the quarter."""
        w = self.w
        p = w.people[pid]
        grad = self.classes_ended(pid)
        spans = [(self.day(a), None if b is None else self.day(b)) for a, b, _, _ in p.spans]
        if w.mentoring_counts:
            for pairing, (opened, _, closed) in w.opened.items():
                if w.mentor_person.get(w.mentor_of[pairing]) == pid:
                    spans.append((self.day(opened), None if closed is None else self.day(closed)))
        scheduled = [
            self.day(m.scheduled_for)
            for m in w.meetings.values()
            if m.status != "cancelled" and self.expects(m, pid)
        ]

        def planned(d: date) -> bool:
            in_class = grad is None or grad[0] > d
            paired = any(a <= d and (b is None or b > d) for a, b in spans)
            soon = any(d <= x <= d + timedelta(days=SOON) for x in scheduled)
            return in_class or paired or soon

        services = sorted(self.services[pid])
        d = p.entry
        while d <= self.through:
            last = max(s for s in services if s[0] <= d) if services[0][0] <= d else None
            if last is None:
                d += timedelta(days=1)
                continue
            if (d - last[0]).days <= NINETY:
                d = last[0] + timedelta(days=NINETY + 1)  # nothing can hold before then
                continue
            if not planned(d):
                return d, last
            d += timedelta(days=1)
        return None

    def _participants(self) -> None:
        w, t, count = self.w, self.through, self.count
        for pid, p in w.people.items():
            if p.entry > t:
                continue
            count("enrolment.cumulative", p.enrolled_at)
            if self.inq(p.entry):
                count("enrolment.new", p.enrolled_at)
            moves = sorted(m for m in p.moves if self.day(m[0]) <= t)
            for at, pos, kind, a, b in moves:
                if not self.inq(self.day(at)):
                    continue
                if kind == "return":
                    count("returned_to_custody.total", pos)
                    count(f"returned_to_custody.from_stage_{a}", pos)
                else:
                    count(f"transitions.{a}_to_{b}", pos)
            entries = [m for m in moves if m[2] == "transition"]
            into = {m[4] for m in entries}
            for stage in (2, 3):
                if stage in into:
                    first = next(m[1] for m in entries if m[4] == stage)
                    count(f"funnel.reached_stage_{stage}", first)
            if 3 in into:
                name = "funnel.stage_3_via_rrc" if 2 in into else "funnel.stage_3_direct"
                count(name, *(m[1] for m in entries if m[4] in (2, 3)))
            exit_pos: int | None = None
            completed = False
            if p.exit is not None and p.exit[0] <= t:
                on, reason, pos = p.exit
                exit_pos, completed = pos, reason == "completed"
                if self.inq(on):
                    count("exits.total", pos)
                    count(f"exits.{reason}", pos)
                if completed:
                    count("funnel.completed", pos)
            else:
                derived = self.gone(pid, t)
                if derived is not None:
                    exit_pos = derived[1]
                    before = self.start - timedelta(days=1)
                    if before < p.entry or self.gone(pid, before) is None:
                        count("exits.total", derived[1], p.enrolled_at)
                        count("exits.derived_90_day", derived[1], p.enrolled_at)
            if exit_pos is None:
                count("enrolment.active", p.enrolled_at)
                count("mentoring.active_participants", p.enrolled_at)
                if moves:
                    count(f"enrolment.stage_{moves[-1][4]}", p.enrolled_at, moves[-1][1])
                else:
                    count("enrolment.stage_1", p.enrolled_at)
                open_now = [
                    at
                    for a, b, _, at in p.spans
                    if self.day(a) <= t and (b is None or self.day(b) > t)
                ]
                if open_now:
                    count("mentoring.paired_participants", min(open_now))
            else:
                count("enrolment.exited", exit_pos)
            if p.entry <= t - timedelta(days=NINETY):
                count("retention.eligible", p.enrolled_at)
                if exit_pos is None or completed:
                    extra = () if exit_pos is None else (exit_pos,)
                    count("retention.retained", p.enrolled_at, *extra)
            if p.spans:
                joined, at = min((a, at) for a, _, _, at in p.spans)
                if self.inq(self.day(joined)):
                    days = float((self.day(joined) - p.entry).days)
                    self.count("first_pairing", p.enrolled_at, at, amount=days)

    # -- meetings and cadence -------------------------------------------------------------
    def _meetings(self) -> None:
        w, t = self.w, self.through
        active: dict[str, set[int]] = defaultdict(set)
        for m in w.meetings.values():
            if m.status == "held" and m.occurred_at is not None:
                if self.inq(self.day(m.occurred_at)):
                    self.count("meetings.held", *m.held_at, amount=m.minutes / 60)
                    active[w.mentor_of[m.pairing]].update(m.held_at)
            elif self.day(m.scheduled_for) <= t and self.inq(self.day(m.scheduled_for)):
                if m.status == "missed":
                    self.count("meetings.missed", m.status_at)
                if m.status == "cancelled" and m.excused:
                    self.count("meetings.cancelled_excused", m.status_at)
        for positions in active.values():
            self.count("mentors.active", *positions)

    def _cadence(self) -> None:
        w, t = self.w, self.through
        weeks = set(quarter_weeks(self.start, quarter_end(self.start)))
        current = iso_week(t)
        for pairing, (opened_at, opened_pos, closed_at) in w.opened.items():
            opened = self.day(opened_at)
            if opened > t:
                continue
            end = t if closed_at is None or self.day(closed_at) > t else self.day(closed_at)
            held: dict[str, list[int]] = defaultdict(list)
            excused: dict[str, list[int]] = defaultdict(list)
            for m in w.meetings.values():
                if m.pairing != pairing:
                    continue
                if m.status == "held" and m.occurred_at is not None:
                    if self.day(m.occurred_at) <= t:
                        held[iso_week(self.day(m.occurred_at))].extend(m.held_at)
                elif m.status == "cancelled" and m.excused and self.day(m.scheduled_for) <= t:
                    excused[m.week].append(m.status_at)
            monday = opened - timedelta(days=opened.weekday())
            while monday <= end:
                week = iso_week(monday)
                if week in held:
                    status, cause = "met", held[week]
                elif week in excused:
                    status, cause = "excused", excused[week]
                elif week == current:
                    status, cause = "pending", [opened_pos]
                else:
                    status, cause = "missed", [opened_pos]
                if week in weeks and monday <= t:
                    self.count(f"cadence.weeks_{status}", *cause)
                    if status in ("met", "missed"):
                        self.count("cadence.due", *cause)
                    if status != "pending":
                        self.count(f"cadence.week.{week}.{status}", *cause)
                monday += timedelta(weeks=1)

    # -- class sessions ---------------------------------------------------------------------
    def _class_sessions(self) -> None:
        """docs/reports.md: requests counted on the day asked, decisions and revocations on
        the facility's day; an approval is in force from its day until the revocation's day
        (not on it); a session held counts in the quarter it was held, with its hours."""
        t = self.through
        for r in self.w.requests.values():
            if self.inq(r.asked):
                self.count("class_sessions.requested", r.position)
            if r.decision is not None:
                decision, on, pos = r.decision
                if self.inq(on):
                    self.count(f"class_sessions.{decision}", pos)
                revoked_by_then = r.revoked is not None and r.revoked[0] <= t
                if decision == "approved" and on <= t and not revoked_by_then:
                    self.count("class_sessions.approvals_in_force", pos)
            if r.revoked is not None and self.inq(r.revoked[0]):
                self.count("class_sessions.revoked", r.revoked[1])
        for m in self.w.meetings.values():
            if m.status != "held" or m.occurred_at is None or m.session not in SESSIONS:
                continue
            if self.inq(self.day(m.occurred_at)):
                # The unit: the record that made the meeting a session of its kind.
                name = f"class_sessions.{m.session}_held"
                self.count(name, m.held_at[-1], amount=m.minutes / 60)

    # -- mentors, training ------------------------------------------------------------------
    def _mentors(self) -> None:
        t = self.through
        for r in self.w.mentors.values():
            done: dict[str, int] = {}
            for pos, module, on, hours in sorted(r.trainings):
                if on > t:
                    continue
                done[module] = pos
                if self.inq(on):
                    self.count("training", pos, amount=hours)
            if self.day(r.registered) > t:
                continue
            self.count("mentors.registered", r.position)
            if self.inq(self.day(r.registered)):
                self.count("mentors.registered_new", r.position)
            if r.certified is not None and self.day(r.certified[0]) <= t:
                self.count("mentors.certified", r.certified[1])
                if self.inq(self.day(r.certified[0])):
                    self.count("mentors.certified_new", r.certified[1])
            if set(done) >= MODULES:
                self.count("training.mentors_complete", *done.values())

    def _goals_escalations_feedback(self) -> None:
        t = self.through
        for g in self.w.goals.values():
            if self.inq(self.day(g.set_at)):
                self.count(f"goals.set.{g.horizon}", g.position)
                self.count("goals.set.total", g.position)
            achieved = g.closed is not None and g.closed[0] == "achieved"
            if g.closed is not None and achieved and self.inq(self.day(g.closed[1])):
                self.count(f"goals.achieved.{g.horizon}", g.closed[2])
                self.count("goals.achieved.total", g.closed[2])
        for x in self.w.escalations.values():
            if self.day(x.raised) > t:
                continue
            if self.inq(self.day(x.raised)):
                self.count(f"escalations.raised.{x.kind}", x.position)
                self.count("escalations.raised.total", x.position)
            if x.resolved is not None and self.day(x.resolved[0]) <= t:
                if self.inq(self.day(x.resolved[0])):
                    hours = (x.resolved[0] - x.raised).total_seconds() / 3600
                    for name in (f"escalations.resolved.{x.kind}", "escalations.resolved.total"):
                        self.count(name, x.position, x.resolved[1], amount=hours)
            else:
                self.count("escalations.open_at_end", x.position)
        for on, pos, scores in self.w.feedback:
            if self.inq(on):
                self.count("feedback.score_sum", pos, amount=float(sum(scores)))
                self.count("feedback.score_count", pos, amount=float(len(scores)))


def quarter_figures(
    lines: list[dict[str, Any]], start: date, through: date, zone: ZoneInfo
) -> dict[str, tuple[float | None, list[frozenset[int]]]]:
    """Per figure name, its value and its counted units (each the positions that made it count)."""
    return Oracle(lines, start, through, zone).figures()
