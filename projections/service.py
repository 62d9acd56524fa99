"""Who was last served when: the participation-level services of each participant, read from
the oversight facts (projections/oversight.py), and where the derived 90-day exit stands.

The rules are domain/definitions.py's; the quarterly report (services/reports/bases.py), the
caseload, the participant view and the `exit_approaching` alert all read a participant's
standing through `people`, so the caseload shows exited whom the report counts as exited.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from psycopg import sql

from domain import definitions as rules
from projections.base import Tables
from projections.oversight import Facts
from projections.oversight_tables import COLUMNS, NAMES, ORDER
from projections.oversight_tables import TABLES as TABLE_DDL
from projections.query import BatchReader, Reader

# The fact tables a participant's standing depends on.
TABLES = (
    "ov_participants",
    "ov_cohorts",
    "ov_memberships",
    "ov_meetings",
    "ov_moves",
    "ov_mentors",
    "ov_exits",
    "ov_pairings",
    "ov_policy",
    "ov_services",
)


@dataclass
class Person:
    """What the derived exit of one participant depends on: (date, log position) pairs."""

    entry: tuple[date, int]
    # the end of their class hours (domain/definitions.py `classes_end`), with its position:
    # the cohort's graduation, or their first move out of stage 1 if that came first
    classes_ended: tuple[date, int] | None
    contacts: list[tuple[date, int]] = field(default_factory=list)
    spans: list[tuple[date, date | None]] = field(default_factory=list)
    # days of their meetings scheduled and not cancelled (held or not)
    scheduled: list[date] = field(default_factory=list)
    recorded_exit: date | None = None
    # `derived_exit` by day, worked out once: a `Person` of a kept `load_people` answer is read
    # by every caseload page at its position (the facts never change under it).
    _exits: dict[date, tuple[date, int] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def _classes_ended_on(self) -> date | None:
        return None if self.classes_ended is None else self.classes_ended[0]

    def _services(self) -> list[tuple[date, int]]:
        services = [self.entry, *self.contacts]
        if self.classes_ended is not None:
            services.append(self.classes_ended)
        return services

    def planned(self, day: date) -> bool:
        return rules.service_planned(day, self._classes_ended_on, self.spans, self.scheduled)

    def last_service(self, day: date) -> tuple[date, int]:
        """The last participation-level service up to `day` (the entry at the latest)."""
        if self.entry[0] > day:
            return self.entry
        return max(s for s in self._services() if s[0] <= day)

    def derived_exit(self, day: date) -> tuple[date, int] | None:
        """(exit date, position of the last service before it) when, by `day`, the rule of
        domain/definitions.py has taken effect; else None."""
        if day in self._exits:
            return self._exits[day]
        ends = rules.planning_ends(self._classes_ended_on, self.spans, self.scheduled)
        found = rules.derived_exit(day, self._services(), self.planned, ends, entry=self.entry[0])
        if len(self._exits) > 8:  # days long past
            self._exits.clear()
        self._exits[day] = found
        return found


def mentoring_setting(facts: Facts) -> bool | None:
    """The grantee's `mentoring_is_service` policy setting (None: no policy set)."""
    rows = facts["ov_policy"]
    return bool(rows[0][2]) if rows else None


def people(facts: Facts, day_of: Callable[[datetime], date]) -> dict[UUID, Person]:
    """Every participant's services, from the facts (`day_of` dates a moment in the grantee's
    time zone)."""
    graduations = {
        code: (on, position)
        for _, code, _, on, position in facts["ov_cohorts"]
        if on is not None and position is not None
    }
    # The first move of each participant out of stage 1 (in the world's order).
    outside: dict[UUID, tuple[date, int]] = {}
    for position, pid, kind, from_stage, _, occurred, _ in facts["ov_moves"]:
        if kind == "transition" and from_stage == 1:
            first = (day_of(occurred), position)
            outside[pid] = min(outside.get(pid, first), first)
    out = {}
    for pid, entry, position, _, cohort in facts["ov_participants"]:
        graduation, moved = graduations.get(cohort), outside.get(pid)
        ended = rules.classes_end(
            None if graduation is None else graduation[0], None if moved is None else moved[0]
        )
        # The event that ended them: the graduation on a tie.
        event = graduation if graduation is not None and graduation[0] == ended else moved
        out[pid] = Person((entry, position), event)
    # Case-management contacts and referral connections.
    for position, pid, _, served_on in facts["ov_services"]:
        if pid in out:
            out[pid].contacts.append((served_on, position))
    for pid, _, exit_date, _, _ in facts["ov_exits"]:
        if pid in out:
            out[pid].recorded_exit = exit_date
    for _, pid, _, joined, left, _ in facts["ov_memberships"]:
        if pid in out:
            out[pid].spans.append((day_of(joined), None if left is None else day_of(left)))
    # Mentors who are participants: their held meetings as peer mentor are services, and an
    # open pairing they mentor is planned service (the grantee's program policy).
    mentor_person = {row[0]: row[5] for row in facts["ov_mentors"] if row[5] is not None}
    mentoring = rules.mentoring_counts(mentoring_setting(facts))
    if mentoring:
        for _, _, mentor_id, opened, closed, _, _ in facts["ov_pairings"]:
            pid = mentor_person.get(mentor_id)
            if pid in out:
                out[pid].spans.append((day_of(opened), None if closed is None else day_of(closed)))
    members = {row[0]: row[6] for row in facts["ov_pairings"]}
    for row in facts["ov_meetings"]:
        mentor_id, status, occurred, attendees, positions = row[2], row[6], row[8], row[11], row[12]
        if status != "cancelled":
            expected = set(members.get(row[1], []))
            if mentoring and mentor_id in mentor_person:
                expected.add(mentor_person[mentor_id])
            for pid in expected & out.keys():
                out[pid].scheduled.append(day_of(row[5]))
        if status != "held" or occurred is None:
            continue
        served = set(attendees)
        if mentoring and mentor_id in mentor_person:
            served.add(mentor_person[mentor_id])
        for pid in served:
            if pid in out:
                out[pid].contacts.append((day_of(occurred), positions[-1] if positions else 0))
    return out


# `load_people` of a build at a position: (schema, build, position, zone) -> people. What a
# build holds at a position never changes, so an entry is right for as long as it is kept;
# the latest few grantees' are kept (each maps every participant of its grantee).
_PEOPLE: OrderedDict[tuple[str, int, int, str], dict[UUID, Person]] = OrderedDict()
_PEOPLE_KEPT = 8
_people_lock = threading.Lock()


def load_people(
    db: Reader, t: Tables, zone: ZoneInfo, *, position: int | None = None
) -> dict[UUID, Person]:
    """`people` of one grantee, read from the oversight view's live build `t`.

    With `position` (the log position the build has applied, read before its rows in the same
    transaction, or later), the answer is kept for the next request at the same position: the
    caseload page and a participant's page then skip reading every participant's services.
    The result is shared: callers must not change it."""
    if position is None:
        return _read_people(db, t, zone)
    key = (t.schema, t.build, position, zone.key)
    with _people_lock:
        found = _PEOPLE.get(key)
        if found is not None:
            _PEOPLE.move_to_end(key)
            return found
    out = _read_people(db, t, zone)
    with _people_lock:
        # Older positions of the same build are never asked again once a newer one is read.
        for old in [k for k in _PEOPLE if k[:2] == key[:2] and k[2] < position]:
            del _PEOPLE[old]
        _PEOPLE[key] = out
        while len(_PEOPLE) > _PEOPLE_KEPT:
            _PEOPLE.popitem(last=False)
    return out


# One participant's facts: each table's rows that concern them (the rest of the grantee is
# never read). Pairings and meetings are theirs as a member or as the mentor they are.
_THEIRS = {
    "ov_participants": "participant_id = %s",
    "ov_cohorts": "TRUE",
    "ov_moves": "participant_id = %s",
    "ov_exits": "participant_id = %s",
    "ov_memberships": "participant_id = %s",
    "ov_mentors": "participant_id = %s",
    "ov_policy": "TRUE",
    "ov_services": "participant_id = %s",
    "ov_pairings": (
        "pairing_id IN (SELECT pairing_id FROM {memberships} WHERE participant_id = %s)"
        " OR mentor_id IN (SELECT mentor_id FROM {mentors} WHERE participant_id = %s)"
    ),
    "ov_meetings": (
        "pairing_id IN (SELECT pairing_id FROM {memberships} WHERE participant_id = %s)"
        " OR mentor_id IN (SELECT mentor_id FROM {mentors} WHERE participant_id = %s)"
    ),
}


# `load_person` reads the ten tables with ONE statement (a UNION ALL of their rows): a row
# carries its table's number, its rank in the table's order and its columns in typed slots
# (the first uuid column in the first uuid slot, ...; NULL in the slots it does not use), so
# the driver loads every value with its own type, as a statement per table would.
def _column_types(table: str) -> dict[str, str]:
    """Each column's SQL type, from the table's DDL."""
    out = {}
    for part in TABLE_DDL[table].split(","):
        words = part.split()
        if len(words) >= 2 and words[0] in NAMES[table]:
            out[words[0]] = words[1]
    return out


_TYPES = {table: _column_types(table) for table in TABLES}
# The typed slots of a row: each type as many times as the table with most columns of it needs.
_SLOTS: tuple[str, ...] = tuple(
    kind
    for kind in sorted({k for types in _TYPES.values() for k in types.values()})
    for _ in range(max(list(types.values()).count(kind) for types in _TYPES.values()))
)


def _placed(table: str) -> tuple[int, ...]:
    """Where each of the table's columns (in `COLUMNS` order) sits among the row's slots."""
    taken: set[int] = set()
    out = []
    for name in NAMES[table]:
        kind = _TYPES[table][name]
        slot = next(i for i, k in enumerate(_SLOTS) if k == kind and i not in taken)
        taken.add(slot)
        out.append(slot)
    return tuple(out)


_PLACES = {table: _placed(table) for table in TABLES}
# The statement's text by (schema, build), composed once per build.
_PERSON_SQL: dict[tuple[str, int], str] = {}


def _person_statement(t: Tables) -> str:
    key = (t.schema, t.build)
    found = _PERSON_SQL.get(key)
    if found is None:
        branches = []
        for n, table in enumerate(TABLES):
            slot_of = dict(zip(_PLACES[table], NAMES[table], strict=True))
            slots = [
                sql.Identifier(slot_of[i]) if i in slot_of else sql.SQL("NULL::" + kind)
                for i, kind in enumerate(_SLOTS)
            ]
            branches.append(
                sql.SQL(
                    "SELECT {n}, row_number() OVER (ORDER BY {order}), {slots} FROM {table}"
                    " WHERE {where}"
                ).format(
                    n=sql.Literal(n),
                    order=sql.SQL(ORDER[table]),
                    slots=sql.SQL(", ").join(slots),
                    table=t[table],
                    where=sql.SQL(_THEIRS[table]).format(
                        memberships=t["ov_memberships"], mentors=t["ov_mentors"]
                    ),
                )
            )
        found = (sql.SQL(" UNION ALL ").join(branches) + sql.SQL(" ORDER BY 1, 2")).as_string(None)
        if len(_PERSON_SQL) > 256:  # builds of grantees long gone
            _PERSON_SQL.clear()
        _PERSON_SQL[key] = found
    return found


def load_person(db: BatchReader, t: Tables, zone: ZoneInfo, participant_id: UUID) -> Person | None:
    """One participant's `Person`, from the facts that concern them alone: what `people` gives
    for them from every fact (the facts of others never change it), at a cost that does not
    grow with the grantee (a command's derived-exit check, a participant's page). The ten
    tables are read with one statement (`_person_statement`)."""
    params = [participant_id] * sum(_THEIRS[table].count("%s") for table in TABLES)
    [rows] = db.fetch_each([(_person_statement(t), params)])
    facts = Facts()
    for table in TABLES:
        facts.rows[table] = []
    for row in rows:
        table = TABLES[row[0]]
        facts.rows[table].append(tuple(row[2 + i] for i in _PLACES[table]))
    return people(facts, lambda moment: moment.astimezone(zone).date()).get(participant_id)


def _read_people(db: Reader, t: Tables, zone: ZoneInfo) -> dict[UUID, Person]:
    facts = Facts()
    for table in TABLES:
        facts.rows[table] = [
            tuple(r)
            for r in db.fetchall(
                sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                    sql.SQL(COLUMNS[table]), t[table], sql.SQL(ORDER[table])
                )
            )
        ]
    return people(facts, lambda moment: moment.astimezone(zone).date())


@dataclass(frozen=True)
class Standing:
    """Where a participant without a recorded exit stands on a day."""

    last_service_on: date
    last_service_position: int
    exit_on: date | None  # the derived exit date (the last service), when it holds
    takes_effect_on: date | None  # when it would hold absent service (none while planned)


def standing(person: Person, day: date) -> Standing:
    last = person.last_service(day)
    derived = person.derived_exit(day)
    planned = person.planned(day)
    return Standing(
        last[0],
        last[1],
        None if derived is None else derived[0],
        None if planned else rules.exit_takes_effect(last[0]),
    )


def approaching(people: dict[UUID, Person], today: date) -> list[tuple[UUID, Standing]]:
    """Participants without a recorded or derived exit, no service planned, and at least
    `EXIT_WARNING_DAYS` since their last service: the derived exit is coming."""
    out = []
    for pid, person in sorted(people.items()):
        if person.recorded_exit is not None or person.entry[0] > today:
            continue
        s = standing(person, today)
        warned = s.exit_on is None and s.takes_effect_on is not None
        if warned and today >= rules.exit_warning_from(s.last_service_on):
            out.append((pid, s))
    return out
