"""A CSV cell a spreadsheet will not run as a formula (OWASP, "CSV Injection").

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice
and Google Sheets as the start of a formula (`=HYPERLINK(...)` in a participant's name would run
when a coordinator opens the export). Such a cell is written with a single quote in front, which
the spreadsheet shows as text and does not evaluate. One exception, so that figures stay figures:
a cell that is a plain number (`-3`, `-2.5`) keeps its sign, since a lone number cannot be a
formula. Every CSV the service writes passes its cells through `safe_cell`.
"""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def safe_cell(text: str) -> str:
    """`text` as a cell no spreadsheet evaluates."""
    if text.startswith(_FORMULA_START) and _PLAIN_NUMBER.fullmatch(text) is None:
        return "'" + text
    return text
