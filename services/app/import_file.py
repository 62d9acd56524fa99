"""Reading an import file (CSV or XLSX) into typed rows, or refusing the whole file.

A file is refused before anything is applied when it cannot be read (not UTF-8, not a
workbook), is empty or too large, names a column the layout does not know or lacks a required
one, or holds a cell that is not of its column's type (a bad date, an unknown placement).
What is well-formed but breaks a rule of the program (a cohort at another facility, an age
outside 16-110) is refused row by row by the domain, in the report (decision 63). The layout
is documented in docs/import.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.common import DomainError
from domain.daterange import RANGE, in_range
from domain.imports import ImportKind
from domain.mentors import MentorSource, RecruitmentChannel
from domain.stages import Placement

MAX_BYTES = 16 * 1024 * 1024  # the route's own body limit (the API's is 64 KiB)
MAX_ROWS = 100_000
CSV_TYPES = ("text/csv", "application/csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MAX_CELL_ERRORS = 50


class FileRefused(DomainError):
    """The file as a whole cannot be imported; `status` is the HTTP answer (400, 413, 422)."""

    def __init__(self, status: int, detail: str, *, code: str, **context: Any) -> None:
        super().__init__(detail, code=code, **context)
        self.status = status


# The API's one-line text rule (services/api/text.py, LINE_PATTERN): no control character,
# line breaks and tabs included; every text column of the layouts is one line.
_CONTROL = re.compile(r"[\x00-\x1F\x7F-\x9F]")


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("holds a control character (a line break, tab, NUL or escape)")
    return value


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(value: str) -> date:
    if not _DAY.fullmatch(value):
        raise ValueError("a date is written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is no day of the calendar") from None
    if not in_range(day):
        raise ValueError(f"lies outside the accepted dates, {RANGE}")
    return day


def _bool(value: str) -> bool:
    word = value.lower()
    if word in ("true", "yes", "1"):
        return True
    if word in ("false", "no", "0"):
        return False
    raise ValueError("true or false")


def _stage(value: str) -> int:
    if value not in ("1", "2", "3"):
        raise ValueError("a stage is 1, 2 or 3")
    return int(value)


def _choice(kind: type[Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise ValueError("one of " + ", ".join(str(m) for m in kind)) from None

    return convert


def _hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise ValueError("a number of hours") from None
    if not 0 < hours <= 200:
        raise ValueError("hours a month between 0 and 200")
    return hours


@dataclass(frozen=True)
class Column:
    name: str
    convert: Callable[[str], Any]
    required: bool = False


LAYOUTS: dict[ImportKind, tuple[Column, ...]] = {
    ImportKind.PARTICIPANTS: (
        Column("first_name", _text, True),
        Column("last_name", _text, True),
        Column("date_of_birth", _date, True),
        Column("program_entry_date", _date, True),
        Column("facility", _text, True),
        Column("cohort", _text, True),
        Column("bop_register_number", _text),
        Column("number", _text),
        Column("ex_offender_at_entry", _bool),
        Column("stage", _stage),
        Column("placement", _choice(Placement)),
        Column("stage_facility", _text),
        Column("stage_date", _date),
        Column("duplicate_reason", _text),
    ),
    ImportKind.MENTORS: (
        Column("display_name", _text, True),
        Column("source", _choice(MentorSource), True),
        Column("channel", _choice(RecruitmentChannel), True),
        Column("participant_number", _text),
        Column("lived_experience", _bool),
        Column("expected_hours_per_month", _hours),
        Column("duplicate_reason", _text),
    ),
}


@dataclass(frozen=True)
class ImportFile:
    kind: ImportKind
    sha256: str
    # Data rows by number (the header is row 1), each holding its non-empty cells, typed.
    rows: list[tuple[int, dict[str, Any]]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRefused(
            400,
            f"the file is not UTF-8 (byte {e.start}); save the spreadsheet as CSV UTF-8",
            code="import_not_utf8",
        ) from None
    # Strict: a quoted cell never closed is an error, not the rest of the file read as one cell
    # (which was then reported as rows with missing cells).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [[c.strip() for c in r] for r in reader]
    except csv.Error as e:
        why = str(e)
        if why == "unexpected end of data":
            why = 'a quoted cell is never closed (a " without its closing ")'
        raise FileRefused(
            400,
            f"the CSV cannot be read at line {reader.line_num}: {why}",
            code="import_unreadable",
        ) from None


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise FileRefused(
            400, f"the file is not an XLSX workbook ({type(e).__name__})", code="import_unreadable"
        ) from None
    try:
        sheet = book.worksheets[0]
        return [[_cell(c) for c in r] for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise FileRefused(
            413, f"an import file is at most {MAX_BYTES} bytes", code="import_too_large"
        )


def read_import(kind: ImportKind, data: bytes, *, xlsx: bool) -> ImportFile:
    """The file's typed rows, or `FileRefused` naming what is wrong with it."""
    check_size(data)
    raw = _xlsx_rows(data) if xlsx else _csv_rows(data)
    table = [(n, r) for n, r in enumerate(raw, start=1) if any(c for c in r)]
    if len(table) < 2:
        raise FileRefused(422, "the file holds no header and data rows", code="import_empty")
    if len(table) - 1 > MAX_ROWS:
        raise FileRefused(
            413, f"an import file has at most {MAX_ROWS} rows", code="import_too_large"
        )
    layout = {c.name: c for c in LAYOUTS[kind]}
    header = table[0][1]
    names = [h.strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()
    unknown = [h or "(blank)" for h in names if h not in layout]
    if unknown or len(set(names)) != len(names):
        # One column whose name holds the others' with semicolons: a spreadsheet whose locale
        # separates with them saved the file.
        separated = len(names) == 1 and ";" in names[0] and not xlsx
        hint = (
            "; the cells are separated by semicolons: save the file as CSV with commas"
            if separated
            else ""
        )
        raise FileRefused(
            422,
            f"columns not in the {kind} layout, or named twice: {', '.join(unknown) or names};"
            f" the layout's columns: {', '.join(layout)}{hint}",
            code="import_unknown_columns",
        )
    missing = [c.name for c in layout.values() if c.required and c.name not in names]
    if missing:
        raise FileRefused(
            422, f"required columns missing: {', '.join(missing)}", code="import_missing_columns"
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for number, cells in table[1:]:
        if len(cells) > len(names) and any(cells[len(names) :]):
            errors.append({"row": number, "column": "", "message": "more cells than columns"})
        row: dict[str, Any] = {}
        wrong: set[str] = set()
        for name, value in zip(names, cells, strict=False):
            if not value:
                continue
            try:
                row[name] = layout[name].convert(value)
            except ValueError as e:
                errors.append({"row": number, "column": name, "message": str(e)})
                wrong.add(name)
        absent = [
            c.name
            for c in layout.values()
            if c.required and c.name not in row | dict.fromkeys(wrong)
        ]
        errors.extend({"row": number, "column": c, "message": "required"} for c in absent)
        rows.append((number, row))
    if errors:
        raise FileRefused(
            422,
            f"{len(errors)} cells are not of their column's type; nothing was imported",
            errors=errors[:_MAX_CELL_ERRORS],
            code="import_invalid_cells",
        )
    return ImportFile(kind, hashlib.sha256(data).hexdigest(), rows)
