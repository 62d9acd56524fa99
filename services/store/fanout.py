"""One query over every grantee's schema, sent as `UNION ALL` statements of up to `CHUNK`
grantees: a metrics scrape costs a few round trips, not one per grantee and family.

`query` is a template whose `{s}` is the grantee's schema; each row comes back with the
grantee's slug in front."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import sql

from services.store.database import Database
from services.store.schema import GranteeDirectory, grantee_schema

CHUNK = 200


def per_grantee(
    db: Database, tenancy: GranteeDirectory, query: str
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    slugs = [g.slug for g in tenancy.grantees(limit=100_000)]
    for start in range(0, len(slugs), CHUNK):
        statement = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {slug}::text, q.* FROM ({query}) q").format(
                slug=sql.Literal(slug),
                query=sql.SQL(query).format(s=sql.Identifier(grantee_schema(slug))),
            )
            for slug in slugs[start : start + CHUNK]
        )
        for row in db.fetchall(statement):
            yield str(row[0]), tuple(row[1:])
