"""An independent oracle for every column of the PIRL row (docs/pirl.md), from the auditor's
NDJSON event stream and, for the personal elements the stream keeps encrypted (200 date of
birth), what the test recorded. Shares no code with services/reports/ or projections/.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NINETY = 90
SOON = 14  # a meeting scheduled for one of the next 14 days is planned service
REASON_CODE = {"institutionalized": "1", "health_medical": "2", "deceased": "3"}
CREDENTIAL_CODE = {
    "high_school_equivalency": "1",
    "associate_degree": "2",
    "bachelor_degree": "3",
    "occupational_license": "4",
    "apprenticeship_certificate": "5",
    "industry_certificate": "6",
    "other": "7",
}
ELEMENTS = (100, 200, 801, 900, 901, 923, 1007, 1600, 1602, 1604, 1606, 1800, 1801)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ymd(day: date | None) -> str:
    return "" if day is None else f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _quarter_last(year: int, n: int) -> date:
    year, n = year + (n - 1) // 4, (n - 1) % 4 + 1
    nxt = date(year + (n == 4), 1 if n == 4 else 3 * n + 1, 1)
    return nxt - timedelta(days=1)


def pirl_rows(
    lines: list[dict[str, Any]],
    year: int,
    number: int,
    zone: ZoneInfo,
    births: dict[str, date],
    made_on: date,
) -> dict[str, dict[int, str]]:
    """Per participant in the quarter's file (entered by its last day), element -> value, as
    the file made on `made_on` has it: facts through the quarter's last day, or through
    `made_on` while the quarter is still in progress."""
    quarter_end = _quarter_last(year, number)
    last = min(quarter_end, made_on)

    def day(text: str) -> date:
        return _ts(text).astimezone(zone).date()

    people: dict[str, dict[str, Any]] = {}
    cohort_code: dict[str, str] = {}
    graduated: dict[str, date] = {}
    members: dict[str, list[str]] = {}
    mentor_of: dict[str, str] = {}
    mentor_person: dict[str, str] = {}
    opened: dict[str, tuple[date, date | None]] = {}
    meeting_pairing: dict[str, str] = {}
    meeting_day: dict[str, date] = {}
    held: dict[str, tuple[date, list[str]]] = {}
    counts_mentoring = True
    referral_of: dict[str, str] = {}
    for line in lines:
        kind = line["topic"].rsplit(":", 1)[-1]
        oid, e = line["originator_id"], line["event"]
        if kind == "Participant.Enrolled":
            people[oid] = {
                "entry": date.fromisoformat(e["program_entry_date"]),
                "ex": bool(e["ex_offender_at_entry"]),
                "cohort": e["cohort_code"],
                "exit": None,
                "spans": [],
                "jobs": [],
                "credentials": [],
                "contacts": [],
                "scheduled": [],
                "other": [],
                "outside": [],
            }
        elif kind == "Participant.StageTransitioned" and int(e["from_stage"]) == 1:
            people[oid]["outside"].append(day(e["occurred_at"]))
        elif kind == "Participant.Exited":
            people[oid]["exit"] = (date.fromisoformat(e["exit_date"]), e["reason"])
        elif kind == "Participant.PairingJoined":
            people[oid]["spans"].append([day(e["occurred_at"]), None, e["pairing_id"]])
        elif kind == "Participant.PairingLeft":
            for span in people[oid]["spans"]:
                if span[2] == e["pairing_id"] and span[1] is None:
                    span[1] = day(e["occurred_at"])
                    break
        elif kind == "Cohort.Started":
            cohort_code[oid] = e["code"]
        elif kind == "Cohort.Graduated":
            graduated[cohort_code[oid]] = date.fromisoformat(e["graduated_on"])
        elif kind == "Mentor.Registered" and e.get("participant_id"):
            mentor_person[oid] = e["participant_id"]
        elif kind == "Pairing.Opened":
            members[oid] = list(e["members"])
            mentor_of[oid] = e["mentor_id"]
            opened[oid] = (day(e["occurred_at"]), None)
        elif kind == "Pairing.Closed":
            opened[oid] = (opened[oid][0], day(e["occurred_at"]))
        elif kind == "Pairing.MemberAdded":
            members[oid].append(e["participant_id"])
        elif kind == "Pairing.MemberRemoved":
            members[oid].remove(e["participant_id"])
        elif kind == "Meeting.Scheduled":
            meeting_pairing[oid] = e["pairing_id"]
            meeting_day[oid] = day(e["scheduled_for"])
        elif kind == "Meeting.Cancelled":
            meeting_day.pop(oid, None)
        elif kind in ("Meeting.Held", "Meeting.Amended"):
            r = e["record"]
            present = [p for p, a in (r.get("attendance") or {}).items() if a == "present"]
            who = held[oid][1] if kind == "Meeting.Amended" else list(members[meeting_pairing[oid]])
            held[oid] = (day(r["occurred_at"]), present or who)
        elif kind == "Outcomes.EmploymentStarted":
            people[e["participant_id"]]["jobs"].append(
                date.fromisoformat(e["employment"]["started_on"])
            )
        elif kind == "Outcomes.CredentialEarned":
            c = e["credential"]
            people[e["participant_id"]]["credentials"].append(
                (date.fromisoformat(c["earned_on"]), c["credential_type"])
            )
        elif kind == "CaseManagementContact":
            people[oid]["other"].append(date.fromisoformat(e["contacted_on"]))
        elif kind == "Referral.Made":
            referral_of[oid] = e["participant_id"]
        elif kind == "Referral.Connected":
            people[referral_of[oid]]["other"].append(date.fromisoformat(e["connected_on"]))
        elif kind in ("ProgramPolicy.Set", "ProgramPolicy.Changed"):
            counts_mentoring = bool(e["rules"].get("mentoring_is_service", True))
    for meeting, on in meeting_day.items():
        pairing = meeting_pairing[meeting]
        expected = set(members[pairing])
        if counts_mentoring and mentor_of[pairing] in mentor_person:
            expected.add(mentor_person[mentor_of[pairing]])
        for pid in expected:
            if pid in people:
                people[pid]["scheduled"].append(on)
    for meeting, (on, who) in held.items():
        served = set(who)
        mentor = mentor_of[meeting_pairing[meeting]]
        if counts_mentoring and mentor in mentor_person:
            served.add(mentor_person[mentor])
        for pid in served:
            if pid in people:
                people[pid]["contacts"].append(on)

    out: dict[str, dict[int, str]] = {}
    for pid, p in people.items():
        if p["entry"] > quarter_end:
            continue
        contact = max((d for d in p["contacts"] if d <= last), default=None)
        # Class hours end at the graduation, or when the participant first left stage 1.
        ends = [d for d in (graduated.get(p["cohort"]), _first(p["outside"])) if d is not None]
        grad = min(ends, default=None)
        exit: tuple[date, str] | None = None
        if p["exit"] is not None and p["exit"][0] <= last:
            exit = p["exit"]
        else:
            services = [p["entry"], *(d for d in p["contacts"] if d <= last)]
            services += [d for d in p["other"] if d <= last]
            if grad is not None and grad <= last:
                services.append(grad)
            spans = [(a, b) for a, b, _ in p["spans"]]
            if counts_mentoring:
                spans += [opened[k] for k, m in mentor_of.items() if mentor_person.get(m) == pid]
            gone = _first_exit(services, p["entry"], last, grad, spans, p["scheduled"])
            if gone is not None:
                exit = (gone, "no_service_90_days")
                # The most recent contact of this period of participation: none after the exit.
                contact = max((d for d in p["contacts"] if d <= gone), default=None)
        row = {
            100: pid,
            200: _ymd(births[pid]),
            801: "1" if p["ex"] else "0",
            900: _ymd(p["entry"]),
            901: _ymd(exit[0] if exit else None),
            923: "" if exit is None else REASON_CODE.get(exit[1], "0"),
            1007: _ymd(contact),
        }
        for n in (1, 2, 3, 4):
            value = ""
            if exit is not None:
                q = exit[0].year * 4 + (exit[0].month - 1) // 3 + n
                y, k = divmod(q, 4)
                if (y, k + 1) <= (year, number):
                    end = _quarter_last(y, k + 1)
                    value = "1" if any(j <= end for j in p["jobs"]) else ""
            row[1600 + 2 * (n - 1)] = value
        earned = [c for c in p["credentials"] if p["entry"] <= c[0] <= last]
        first = min(earned, default=None)
        row[1800] = "" if first is None else CREDENTIAL_CODE[first[1]]
        row[1801] = _ymd(first[0] if first else None)
        out[pid] = row
    return out


def _first_exit(
    services: list[date],
    entry: date,
    through: date,
    grad: date | None,
    spans: list[tuple[date, date | None]],
    scheduled: list[date],
) -> date | None:
    """The last service before the first day, up to `through`, with more than 90 days since
    the last service and nothing planned (classes, a pairing, a meeting in the next 14 days);
    once that day has come the exit stands whatever service follows. The scan starts at the
    program entry: what came before it opens no gap."""
    day = entry
    while day <= through:
        last = max(d for d in services if d <= day)
        if (day - last).days <= NINETY:
            day = last + timedelta(days=NINETY + 1)
            continue
        planned = (
            (grad is None or grad > day)
            or any(a <= day and (b is None or b > day) for a, b in spans)
            or any(day <= d <= day + timedelta(days=SOON) for d in scheduled)
        )
        if not planned:
            return last
        day += timedelta(days=1)
    return None


def _first(days: list[date]) -> date | None:
    return min(days) if days else None
