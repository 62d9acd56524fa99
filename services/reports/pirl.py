"""The PIRL-aligned quarterly export (ETA-9172): one positional CSV row per participant.

Everything here is a pure function of a grantee's log up to a position, the quarter and the
grantee's time zone: `collect` folds the events into per-participant facts
(services/reports/pirl_facts.py), `build` turns them into rows through the one element table
`COLUMNS` (services/reports/pirl_elements.py), `render` writes the bytes. The same inputs
always give the same bytes (docs/pirl.md).

Who is in a quarter's file: every participant whose date of program entry (900) is on or before
the last day of the quarter, exited or not (the file is cumulative, so exiters stay in it for
their outcome quarters). Facts count when their date in the world is on or before that last day.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from datetime import date
from uuid import UUID

from services.reports.csvsafe import safe_cell
from services.reports.pirl_elements import (
    COLUMNS,
    ELEMENTS_VERSION,
    EXIT_REASON_CODE,
    markdown_table,
)
from services.reports.pirl_facts import TOPICS, Facts, Log, Subject, collect
from services.reports.quarterly import Quarter

# The export's public face (services/app/exports.py, the CLI, docs/pirl.md).
__all__ = [
    "COLUMNS",
    "ELEMENTS_VERSION",
    "EXIT_REASON_CODE",
    "TOPICS",
    "Log",
    "Quarter",
    "build",
    "collect",
    "digest",
    "in_scope",
    "markdown_table",
    "parse_quarter",
    "render",
]


def parse_quarter(text: str) -> Quarter:
    """The quarter of an export, `YYYYQn` from 1900Q1 to 2200Q4 (as every quarter);
    ValueError otherwise."""
    return Quarter.parse(text)


def in_scope(log: Log, quarter: Quarter) -> list[Facts]:
    """Participants in the quarter's file: entered on or before its last day."""
    return [f for f in log.people.values() if f.entry <= quarter.end]


def build(
    log: Log, quarter: Quarter, identifiers: Mapping[UUID, str], made_on: date
) -> list[list[str]]:
    """The rows of the file made on `made_on` (the grantee's local date), ordered by identifier
    (which carries no meaning)."""
    subjects = [
        Subject(identifiers[f.participant_id], f, quarter, log.graduations.get(f.cohort), made_on)
        for f in in_scope(log, quarter)
    ]
    subjects.sort(key=lambda s: s.identifier)
    return [[c.value(s) for c in COLUMNS] for s in subjects]


def render(rows: list[list[str]]) -> bytes:
    """CSV (RFC 4180: CRLF line ends), UTF-8; the header row holds the element numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([str(c.element) for c in COLUMNS])
    writer.writerows([[safe_cell(cell) for cell in row] for row in rows])
    return out.getvalue().encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
