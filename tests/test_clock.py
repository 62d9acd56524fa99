"""Time is an input (DESIGN D10): business code reads "now" only through `domain/clock.py`.

The scan walks every module of `domain/`, `services/` and `projections/` and fails on a direct
read of the wall clock: `datetime.now()`, `datetime.utcnow()`, `date.today()`,
`datetime.today()`, `time.time()`, `time.time_ns()`, and SQL that asks the database for its
clock (`now()`, `CURRENT_DATE`, `CURRENT_TIMESTAMP`, ...) outside a column default. Durations
(`time.monotonic()`, `time.perf_counter()`) are not dates and are allowed.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain import clock

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "services", "projections")
# The one module that may read the machine's clock.
ALLOWED = {Path("domain/clock.py")}

WALL_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
}
# SQL reading the server's clock. A column's DEFAULT (when a row was written, kept by the
# database like the store's own bookkeeping) is not a decision taken on the date.
SQL_CLOCK = re.compile(
    r"\b(now\(\)|current_date|current_timestamp|localtimestamp|clock_timestamp\(\)"
    r"|statement_timestamp\(\)|transaction_timestamp\(\))",
    re.IGNORECASE,
)
SQL_DEFAULT = re.compile(r"\bDEFAULT\s+now\(\)", re.IGNORECASE)


def wall_clock_reads(source: str, name: str = "<source>") -> list[str]:
    """Every direct read of the wall clock in a module's source, as `name:line: what`."""
    found: list[str] = []
    tree = ast.parse(source, name)
    # Docstrings and other bare strings are prose, not SQL.
    prose = {
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else ""
            )
            if (owner_name, node.func.attr) in WALL_CALLS:
                found.append(f"{name}:{node.lineno}: {owner_name}.{node.func.attr}()")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in prose
        ):
            text = SQL_DEFAULT.sub("", node.value)
            match = SQL_CLOCK.search(text)
            if match:
                found.append(f"{name}:{node.lineno}: SQL {match.group(1)}")
    return found


def business_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_business_code_reads_the_date_only_through_the_clock() -> None:
    offenders = [
        hit
        for path in business_modules()
        if path.relative_to(ROOT) not in ALLOWED
        for hit in wall_clock_reads(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offenders == [], "read the clock through domain/clock.py:\n" + "\n".join(offenders)


def test_the_scan_finds_a_wall_clock_read_added_to_a_use_case() -> None:
    """The check can fail: a real use case with one direct read added is caught."""
    use_case = (ROOT / "services" / "app" / "goals.py").read_text()
    assert wall_clock_reads(use_case) == []
    tampered = use_case.replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport datetime as _dt\n"
        "_STARTED = _dt.datetime.now(_dt.UTC)\n",
        1,
    )
    assert [h.split(": ", 1)[1] for h in wall_clock_reads(tampered)] == ["datetime.now()"]
    for line in ("date.today()", "time.time()", "datetime.utcnow()"):
        assert wall_clock_reads(f"import time\nfrom datetime import date, datetime\nx = {line}\n")
    sql_read = 'q = "SELECT * FROM t WHERE at < now() - interval \'1 day\'"\n'
    assert wall_clock_reads(sql_read) == ["<source>:1: SQL now()"]
    assert wall_clock_reads('q = "CREATE TABLE t (at timestamptz DEFAULT now())"\n') == []
    assert wall_clock_reads("import time\nx = time.monotonic()\n") == []


def test_a_fixed_clock_answers_its_instant_until_moved() -> None:
    at = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    frozen = clock.FixedClock(at)
    with clock.using(frozen):
        assert clock.now() == at
        assert clock.today("America/Chicago").isoformat() == "2026-12-31"
        frozen.advance(timedelta(minutes=2))
        assert clock.today().isoformat() == "2027-01-01"
    assert clock.current() is not frozen


def test_a_ticking_clock_keeps_its_date_and_moves_forward() -> None:
    at = datetime(2028, 2, 29, 12, tzinfo=UTC)
    ticking = clock.FixedClock(at, tick=True)
    first = ticking.now()
    second = ticking.now()
    assert at <= first <= second < at + timedelta(minutes=1)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.FixedClock(datetime(2026, 1, 1))


def test_events_are_stamped_by_the_clock_in_force() -> None:
    from domain.facilities import Facility, FacilityKind

    at = datetime(2027, 1, 1, 6, tzinfo=UTC)
    with clock.using(clock.FixedClock(at)):
        facility = Facility.register(code="FCI-X", name="FCI X", kind=FacilityKind.BOP_INSTITUTION)
    event = facility.collect_events()[0]
    assert event.timestamp == at and event.occurred_at == at
