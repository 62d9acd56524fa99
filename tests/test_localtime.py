"""`localize` renders every aware datetime of an answer in the grantee's zone, wherever the
declared types let one be, and leaves the rest of the answer as it is (same objects)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from services.api.localtime import localize

CHICAGO = ZoneInfo("America/Chicago")
AT = datetime(2026, 11, 4, 0, 0, tzinfo=UTC)  # 18:00 the day before in Chicago


class Plain(msgspec.Struct):
    id: UUID
    name: str
    born: date
    count: int = 0


class Inner(msgspec.Struct):
    at: datetime
    note: str = ""


class Outer(msgspec.Struct):
    plain: Plain
    maybe: datetime | None
    nested: list[Inner]
    tagged: Annotated[datetime, msgspec.Meta(tz=True)]
    loose: dict[str, Any]
    later: Inner | None = None


def test_every_datetime_where_a_type_lets_one_be_is_localized_and_the_rest_kept() -> None:
    plain = Plain(UUID(int=1), "Ann", date(1990, 1, 1))
    value = Outer(
        plain=plain,
        maybe=AT,
        nested=[Inner(AT), Inner(AT, "x")],
        tagged=AT,
        loose={"when": AT, "n": 1},
        later=Inner(AT),
    )
    out = localize(value, CHICAGO)
    local = AT.astimezone(CHICAGO)
    assert out.maybe == local and out.maybe.utcoffset() == local.utcoffset()
    assert [i.at.isoformat() for i in out.nested] == ["2026-11-03T18:00:00-06:00"] * 2
    assert out.tagged.isoformat() == "2026-11-03T18:00:00-06:00"
    assert out.loose["when"].isoformat() == "2026-11-03T18:00:00-06:00"
    assert out.later is not None and out.later.at.isoformat() == "2026-11-03T18:00:00-06:00"
    assert out.plain is plain  # nothing to change: the same object
    assert localize(plain, CHICAGO) is plain
    assert localize([plain], CHICAGO)[0] is plain
