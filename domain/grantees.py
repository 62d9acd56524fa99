"""Grantees: the organisations (tenants) that run a PROWD program on the platform."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.common import ProwdAggregate, RuleViolation, natural_id, utcnow

SLUG = re.compile(r"[a-z][a-z0-9_]{1,29}")
GRANT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,39}")


def grantee_id(slug: str) -> UUID:
    return natural_id("grantee", slug)


def check_slug(slug: str) -> None:
    if not SLUG.fullmatch(slug):
        raise RuleViolation(
            "a grantee slug is 2-30 characters: a lower-case letter, then lower-case letters, "
            "digits or underscores",
            code="invalid_slug",
        )


def check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation(f"unknown time zone {name!r}", code="invalid_time_zone") from None


class Grantee(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        slug: str
        name: str
        grant_number: str
        time_zone: str

    class Registered(ProwdAggregate.Created):
        slug: str
        name: str
        grant_number: str
        time_zone: str

        def apply(self, aggregate: Any) -> None:
            aggregate.slug = self.slug
            aggregate.name = self.name
            aggregate.grant_number = self.grant_number
            aggregate.time_zone = self.time_zone

    @classmethod
    def register(cls, slug: str, name: str, grant_number: str, time_zone: str) -> Grantee:
        check_slug(slug)
        if not GRANT_NUMBER.fullmatch(grant_number):
            raise RuleViolation(
                "a DOL grant number is 4-40 upper-case letters, digits and dashes",
                code="invalid_grant_number",
            )
        if not name.strip():
            raise RuleViolation("a grantee needs a name", code="missing_name")
        check_time_zone(time_zone)
        grantee: Grantee = cls._create(
            cls.Registered,
            id=grantee_id(slug),
            slug=slug,
            name=name.strip(),
            grant_number=grant_number,
            time_zone=time_zone,
            occurred_at=utcnow(),
        )
        return grantee
