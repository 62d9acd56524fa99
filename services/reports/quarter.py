"""A calendar quarter of federal reporting (`YYYYQn`; Q1 is January to March)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`YYYYQn` (calendar quarters: Q1 is January to March); ValueError otherwise."""
        match = QUARTER.fullmatch(text)
        if match is None or int(match[1]) < 1900:
            raise ValueError(f"{text!r} is not a quarter of the form YYYYQn, e.g. 2026Q1")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        return self.after(1).first_day - timedelta(days=1)

    def after(self, n: int) -> Quarter:
        index = self.year * 4 + self.number - 1 + n
        return Quarter(index // 4, index % 4 + 1)

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)
