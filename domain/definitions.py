"""The rules behind every reported figure, one definition each (no I/O here).

The quarterly report (services/reports/bases.py), the PIRL export (services/reports/pirl_facts.py),
the caseload and the alerts all decide "has this participant exited?", "did they reach
stage 2?" and the like through this module, so a participant counts the same way everywhere.
`RULES` states each definition in plain words with its source; docs/reports.md and the report
page's appendix are written from it.

Participation-level services (what resets the 90-day clock), each dated in the world:
program entry, a held meeting the participant attended as mentee, the end of their classes (the
cohort's graduation, or the day they left stage 1 if that came first), a case-management
contact (domain/casework.py), a referral connection (`Referral.Connected`), and, by program
policy (`mentoring_is_service` of the grantee's `ProgramPolicy`, on by default:
`MENTORING_IS_SERVICE`), a held meeting of a pairing in which the participant served as peer
mentor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from domain.common import RuleViolation

# Days without a participation-level service, none planned, after which a participant has
# exited (PIRL 901 "date of program exit", DOMAIN.md).
NO_SERVICE_DAYS = 90
# Days without service from which staff are warned that a derived exit is coming.
EXIT_WARNING_DAYS = 60
# Program policy's default: a held meeting in which the participant served as peer mentor is a
# participation-level service (the tip sheet: peer mentoring by graduates retains them). Each
# grantee sets it in its program policy (`MentoringRules.mentoring_is_service`); the setting in
# force when a figure is computed applies to the whole history (`mentoring_counts`).
MENTORING_IS_SERVICE = True
# A meeting scheduled (not cancelled) for one of the next this many days is planned service.
PLANNED_MEETING_DAYS = 14
# Days after which a participant counts toward retention (enrolled this long by the end).
RETENTION_DAYS = 90

P = TypeVar("P")


def reached_stage(to_stages: Iterable[int], stage: int) -> bool:
    """Whether a participant reached `stage`: a recorded transition *into* that stage.

    A move from stage 1 straight to stage 3 is a release to the community without an RRC:
    it does not count as having reached stage 2."""
    return stage in set(to_stages)


def passed_through_rrc(to_stages: Iterable[int]) -> bool:
    """Whether a participant who reached stage 3 entered stage 2 (RRC or home confinement)."""
    stages = set(to_stages)
    return 3 in stages and 2 in stages


def derived_exit(
    day: date,
    services: Iterable[tuple[date, P]],
    planned: Callable[[date], bool],
    changes: Iterable[date] = (),
    *,
    entry: date,
) -> tuple[date, P] | None:
    """The derived exit as it stands on `day`: (exit date, what the last service before it
    was), or None. The exit takes effect on the first day, up to `day`, on which more than
    `NO_SERVICE_DAYS` have passed since the last service and no service is `planned`; its
    date is that last service's date (PIRL 901). Once it has taken effect it stands: a later
    service does not undo an exit already reported (a new period of participation is a new
    enrolment), so the files of later quarters agree with the earlier ones.

    `planned` says whether service is planned on a day; `changes` are the days on which it can
    turn false (a graduation, a pairing's end, the day after a scheduled meeting), the only
    days besides the 91st after a service on which an exit can begin to hold. `services` must
    include the program entry (dated `entry`); a service dated before it (a graduation or a
    meeting recorded before the enrolment) opens no gap. Ties on one day are broken by the
    larger second element."""
    past = sorted((s for s in services if entry <= s[0] <= day), key=lambda s: (s[0], _rank(s[1])))
    turns = sorted(set(changes))
    for i, last in enumerate(past):
        # The gap after `last`: until the next service (exclusive), or through `day`.
        until = past[i + 1][0] - timedelta(days=1) if i + 1 < len(past) else day
        first = exit_takes_effect(last[0])
        for candidate in (first, *(d for d in turns if d > first)):
            if candidate > until:
                break
            if not planned(candidate):
                return last
    return None


def check_no_derived_exit(number: str, exit_on: date | None, code: str) -> None:
    """Refuse, with the code a recorded exit is refused with, a command on a participant whose
    derived exit (`derived_exit`, dated `exit_on`) has taken effect: the exit stands as if
    recorded, for the write side as for the reports (decision 97)."""
    if exit_on is not None:
        raise RuleViolation(
            f"participant {number} has exited the program: a derived exit dated {exit_on}, their"
            f" last service (more than {NO_SERVICE_DAYS} days without service, none planned)",
            code=code,
        )


def _rank(tag: object) -> int:
    return tag if isinstance(tag, int) else 0


def exit_takes_effect(last_service: date) -> date:
    """The first day on which the derived exit holds, absent any further service."""
    return last_service + timedelta(days=NO_SERVICE_DAYS + 1)


def exit_warning_from(last_service: date) -> date:
    """The first day staff are warned of an approaching derived exit."""
    return last_service + timedelta(days=EXIT_WARNING_DAYS)


def mentoring_counts(setting: bool | None) -> bool:
    """Whether mentoring counts as service under the grantee's policy setting (None: never set,
    the default)."""
    return MENTORING_IS_SERVICE if setting is None else setting


def in_span(day: date, start: date, end: date | None) -> bool:
    """An open span [start, end): a pairing membership is open on `day`."""
    return start <= day and (end is None or end > day)


def meeting_planned(day: date, scheduled: Iterable[date]) -> bool:
    """A meeting (not cancelled) is scheduled for a day from `day` to `PLANNED_MEETING_DAYS`
    after it."""
    last = day + timedelta(days=PLANNED_MEETING_DAYS)
    return any(day <= d <= last for d in scheduled)


def classes_end(graduation: date | None, left_stage_1: date | None) -> date | None:
    """The day a participant's class hours ended: their cohort's graduation, or the day they
    left stage 1 (to an RRC, home confinement or the community: classes are held inside) if
    that came first; None while they are still in class. That day is a service (their last
    class hours)."""
    days = [d for d in (graduation, left_stage_1) if d is not None]
    return min(days) if days else None


def service_planned(
    day: date,
    classes_ended: date | None,
    spans: Iterable[tuple[date, date | None]],
    scheduled: Iterable[date] = (),
) -> bool:
    """Service is planned on `day` when the participant's classes have not ended yet
    (`classes_end`: still inside, cohort not graduated), they are in an open pairing (meetings
    are due every week), or a meeting of theirs is scheduled in the next
    `PLANNED_MEETING_DAYS` days."""
    in_class = classes_ended is None or classes_ended > day
    return in_class or any(in_span(day, a, b) for a, b in spans) or meeting_planned(day, scheduled)


def planning_ends(
    classes_ended: date | None,
    spans: Iterable[tuple[date, date | None]],
    scheduled: Iterable[date] = (),
) -> list[date]:
    """The days on which `service_planned` can turn false: the end of classes, each pairing
    span's end, the day after each scheduled meeting."""
    days = [] if classes_ended is None else [classes_ended]
    days += [end for _, end in spans if end is not None]
    days += [d + timedelta(days=1) for d in scheduled]
    return days


def certified_in(day: date, start: date, through: date) -> bool:
    """A mentor certified in a quarter: certification dated between its start and the report day."""
    return start <= day <= through


def approval_in_force(day: date, approved_on: date | None, revoked_on: date | None) -> bool:
    """A facility's approval of class sessions holds on `day`: approved on or before it, and
    not revoked on or before it."""
    return (
        approved_on is not None and approved_on <= day and (revoked_on is None or day < revoked_on)
    )


@dataclass(frozen=True)
class Rule:
    name: str
    words: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule(
        "participation-level service",
        "Program entry; a held meeting the participant attended as mentee; the end of their"
        " class hours (their cohort's graduation, or the day they left stage 1 for an RRC, home"
        " confinement or the community, if that came first); a case-management contact; a referral"
        " connection (the participant connected with the resource); and, by the grantee's"
        " program policy"
        " (mentoring_is_service, on by default), a held meeting in which the participant served"
        " as peer mentor.",
        "DOMAIN.md (90-day rule); TEGL 10-23 / PIRL 901; peer-mentoring tip sheet (mentoring by"
        " graduates retains participants)",
    ),
    Rule(
        "service planned",
        "The participant is still in class (inside, in stage 1, and their cohort has not"
        " graduated yet), or the participant is in an open pairing on the day, or (by the same"
        " program policy) mentors one, or a meeting of"
        f" theirs (not cancelled) is scheduled for one of the next {PLANNED_MEETING_DAYS} days.",
        "DOMAIN.md (exit when no service is planned); PIRL 901",
    ),
    Rule(
        "derived exit",
        f"A participant without a recorded exit has exited from the first day on which more"
        f" than {NO_SERVICE_DAYS} days have passed since their last participation-level service"
        " and none is planned. The exit date is the date of that last service; the exit is"
        " counted in the quarter in which it took effect, and it stands: service after it (a"
        " graduate coming back as a peer mentor) does not undo an exit already reported, so"
        " later quarters' files carry the same exit date.",
        "PIRL 901 (date of program exit); DOMAIN.md",
    ),
    Rule(
        "exit approaching",
        f"From day {EXIT_WARNING_DAYS} without service (none planned) staff are alerted, naming"
        f" the day the derived exit would take effect (day {NO_SERVICE_DAYS + 1}).",
        "program practice; tip sheet (retention)",
    ),
    Rule(
        "reached a stage",
        "A participant reached stage 2 when a transition into stage 2 (RRC or home confinement)"
        " is recorded, and stage 3 when one into stage 3 is. A move from stage 1 straight to"
        " stage 3 is a direct release: it does not count as reaching stage 2.",
        "DOMAIN.md (stages); PROWD program model",
    ),
    Rule(
        "passed through an RRC",
        "Of those who reached stage 3, those who also entered stage 2; the others were"
        " released directly from custody.",
        "DOMAIN.md (stages)",
    ),
    Rule(
        "retention",
        f"Of the participants enrolled {RETENTION_DAYS} days or more by the report day, those"
        " active at its end or whose exit was a completion.",
        "PROWD performance measures",
    ),
    Rule(
        "active mentor",
        "A mentor who held at least one meeting in the quarter (through the report day).",
        "peer-mentoring tip sheet (regular meetings)",
    ),
    Rule(
        "certified in the quarter",
        "A mentor whose certification is dated between the quarter's first day and the report day.",
        "DOMAIN.md (mentor certification)",
    ),
    Rule(
        "weekly cadence",
        "Each ISO week (Thursday in the quarter) of an open pairing is met when a meeting was"
        " held, excused when one was cancelled with an excuse, else missed once the week is"
        " over; the rate is met weeks over met and missed weeks. Weeks not yet over are left out.",
        "peer-mentoring tip sheet (weekly contact)",
    ),
    Rule(
        "class-session approval",
        "A facility's approval of class sessions for a cohort is in force from the day the"
        " facility approved (as recorded, with who approved there) until the day it revoked it."
        " Requests, approvals, denials and revocations are counted in the quarter of the day the"
        " facility decided (requests: the day asked); approvals in force at the quarter's end"
        " (or report day) are counted then.",
        "peer-mentoring tip sheet (grantees may request class sessions and graduate speakers)",
    ),
    Rule(
        "class session",
        "A held group meeting recorded as group mentoring given as a class session, under an"
        " approval in force for the cohort of its stage-1 members; it may fall in class hours."
        " Counted (and its hours summed) in the quarter it was held, and also among meetings held.",
        "peer-mentoring tip sheet (group mentoring as a class session)",
    ),
    Rule(
        "graduate speaker session",
        "A held group meeting in which a graduate mentor (registered from a graduated cohort)"
        " speaks to a new class, under an approval in force for that class's cohort. Counted"
        " (and its hours summed) in the quarter it was held, and also among meetings held.",
        "peer-mentoring tip sheet (graduates of the first cohort speak to the new class)",
    ),
)
