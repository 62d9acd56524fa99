"""The PIRL edit checks run before a file is served, as WIPS applies them on upload (no I/O).

`CHECKS` is the one table (docs/pirl.md prints it): each check names the elements it reads,
whether WIPS rejects the file (`error`) or only warns (`warning`), and says in words what it
requires. A file with a failing error row is refused; one with only warnings is refused unless
the caller allows warnings (`allow_warnings`, CLI `--allow-warnings`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

Row = dict[str, str]
Severity = Literal["error", "warning"]


def _day(cell: str) -> date | None:
    try:
        return date(int(cell[:4]), int(cell[4:6]), int(cell[6:8])) if len(cell) == 8 else None
    except ValueError:
        return None


def _required(row: Row) -> bool:
    return bool(row.get("100")) and _day(row.get("900", "")) is not None


def _exit_after_entry(row: Row) -> bool:
    entry, exit_ = _day(row.get("900", "")), _day(row.get("901", ""))
    return exit_ is None or entry is None or exit_ >= entry


def _dob_present(row: Row) -> bool:
    return _day(row.get("200", "")) is not None


def _dob_plausible(row: Row) -> bool:
    born, entry = _day(row.get("200", "")), _day(row.get("900", ""))
    if born is None or entry is None:
        return True
    age = entry.year - born.year - ((entry.month, entry.day) < (born.month, born.day))
    return 16 <= age <= 110


def _contact_not_after_exit(row: Row) -> bool:
    contact, exit_ = _day(row.get("1007", "")), _day(row.get("901", ""))
    return contact is None or exit_ is None or contact <= exit_


@dataclass(frozen=True)
class Check:
    code: str
    elements: tuple[str, ...]
    severity: Severity
    words: str
    passes: Callable[[Row], bool]


CHECKS: tuple[Check, ...] = (
    Check(
        "required_elements",
        ("100", "900"),
        "error",
        "the unique identifier and the date of program entry are present",
        _required,
    ),
    Check(
        "exit_before_entry",
        ("900", "901"),
        "error",
        "the date of program exit is not before the date of program entry",
        _exit_after_entry,
    ),
    Check(
        "date_of_birth_missing",
        ("200",),
        "warning",
        "the date of birth is present (it is absent once erased)",
        _dob_present,
    ),
    Check(
        "date_of_birth_implausible",
        ("200", "900"),
        "error",
        "the participant was between 16 and 110 years old at program entry",
        _dob_plausible,
    ),
    Check(
        "contact_after_exit",
        ("1007", "901"),
        "warning",
        "the date of most recent contact is not after the date of program exit",
        _contact_not_after_exit,
    ),
)
# Checked across rows rather than row by row.
UNIQUE = Check(
    "duplicate_identifier",
    ("100",),
    "error",
    "each unique identifier appears on one row only",
    lambda row: True,
)


@dataclass(frozen=True)
class Failure:
    row: int  # 1-based, the header not counted
    identifier: str
    check: Check


def failures(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[Failure]:
    """Every (row, check) that fails, in row order."""
    by_element = [dict(zip(header, row, strict=True)) for row in rows]
    seen = Counter(r.get("100", "") for r in by_element)
    out = []
    for i, row in enumerate(by_element, start=1):
        for check in CHECKS:
            if not check.passes(row):
                out.append(Failure(i, row.get("100", ""), check))
        if seen[row.get("100", "")] > 1:
            out.append(Failure(i, row.get("100", ""), UNIQUE))
    return out


def blocking(found: list[Failure], allow_warnings: bool) -> list[Failure]:
    """The failures that refuse the file: errors always, warnings unless allowed."""
    return [f for f in found if f.check.severity == "error" or not allow_warnings]


def describe(found: list[Failure]) -> str:
    return "; ".join(
        f"row {f.row} ({f.identifier}): {f.check.code} ({f.check.severity}: {f.check.words})"
        for f in found
    )


def markdown() -> str:
    """The table of checks, for docs/pirl.md."""
    lines = ["| Check | Elements | WIPS | Requires |", "|---|---|---|---|"]
    for c in (*CHECKS, UNIQUE):
        lines.append(f"| `{c.code}` | {', '.join(c.elements)} | {c.severity} | {c.words} |")
    return "\n".join(lines)
