"""Test people: enrolment refuses the same name and date of birth twice (409
`possible_duplicate`), so helpers that enrol many "Ann Lee"s give each their own birth date."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

_next = itertools.count()


def birth_date() -> str:
    """A date of birth no other call in this process returned (1975 onwards: adults at any
    entry date the tests use)."""
    return (date(1975, 1, 1) + timedelta(days=next(_next))).isoformat()
