"""The cost of a list's search (`q`, decision 133) over a grantee of `--people` participants.

A scratch database holds one build of the `search` view's `people` table, filled with
`--people` participants whose names are drawn from the demo's first names and surnames made
of syllables (a few thousand distinct surnames). Each search's `SELECT person_id` (what every
list filters by) is timed `--runs` times as `SELECT count(*)` over one connection: a word
prefix too short for misspellings, a surname, a misspelt surname, two words in roster order,
a number prefix. The queries are plain SQL: the same on every server, with pg_trgm or not.

Beside each, a list's first page of 50 over the same table (`projections.query.page`): in
the list's own order (by key), and closest first (decision 141: the order a list takes when
searched without a `sort`), and the closest-first second page, after the first's cursor.

    uv run python tests/perf/bench_search.py [--people 5000] [--runs 200]

Results are printed, and written to tests/perf/results/search-<stamp>.json. Not a pytest test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import psycopg
from psycopg import sql

from projections.base import Tables
from projections.query import Sort, page
from projections.search import Find, Search, fold, key, matching, words
from services.demo.data import FIRST
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import log, machine_info, stamp, write_json

PAGE = 50
FIRST_UUID = "00000000-0000-0000-0000-000000000000"
SYLLABLES = ["gar", "ci", "a", "mar", "tin", "ez", "lo", "pez", "wil", "son", "da", "vis", "ro"]
SEARCHES = {
    "a prefix of 3 letters (no misspellings looked for)": "gar",
    "a surname": "garcia",
    "a misspelt surname": "garsia",
    "two words, roster order": "garsia rosa",
    "a register number prefix": "12345",
}


def fill(conn: psycopg.Connection[Any], t: Tables, people: int) -> None:
    rng = random.Random(7)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(t.schema)))
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(t["people"], sql.SQL(Search.tables["people"]))
    )
    rows = []
    for _ in range(people):
        first = rng.choice(FIRST)
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        register = f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}"
        rows.append(
            (
                rng.randbytes(16).hex(),
                fold(f"{first} {last}"),
                fold(first),
                fold(last),
                key(register),
            )
        )
    rows.append(("0" * 32, "rosa garcia", "rosa", "garcia", "12345678"))
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (person_id, kind, folded, first_folded, last_folded, register_key)"
                " VALUES (%s, 'participant', %s, %s, %s, %s)"
            ).format(t["people"]),
            rows,
        )
    conn.execute(sql.SQL("ANALYZE {}").format(t["people"]))


def timed(conn: psycopg.Connection[Any], query: sql.Composable, params: Any, runs: int) -> Any:
    """The median milliseconds of `SELECT count(*)` over `query`, and the count."""
    times, found = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        row = conn.execute(sql.SQL("SELECT count(*) FROM ({}) s").format(query), params)
        found = int(row.fetchone()[0])  # type: ignore[index]
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 3), found


class Db:
    """The bench's connection as a `projections.query.Reader`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def fetchall(self, query: Any, params: Any = None) -> list[Any]:
        return self.conn.execute(query, params).fetchall()

    def fetchone(self, query: Any, params: Any = None) -> Any:
        return self.conn.execute(query, params).fetchone()


def paged(
    conn: psycopg.Connection[Any], t: Tables, q: str, sort: Sort | None, after: str, runs: int
) -> tuple[float, str | None]:
    """The median milliseconds of a list's page of `PAGE` found by `q` after `after`, and the
    next page's cursor."""
    found, params = Find(t, q).clause("participant", "person_id")
    times, nxt = [], None
    for _ in range(runs):
        began = time.perf_counter()
        _, nxt = page(
            Db(conn),
            t,
            "people",
            "person_id",
            "person_id",
            after=after,
            limit=PAGE,
            cast_key="uuid",
            extra=found,
            extra_params=params,
            sort=sort,
        )
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 3), nxt


def pages(conn: psycopg.Connection[Any], t: Tables, q: str, runs: int) -> dict[str, Any]:
    """A first page in the list's own order; closest first, and its second page."""
    own_ms, _ = paged(conn, t, q, None, FIRST_UUID, runs)
    find = Find(t, q)
    closest = find.closest(find.rank(sql.SQL("{}.person_id").format(t["people"])))
    first_ms, cursor = paged(conn, t, q, closest, "", runs)
    second_ms = paged(conn, t, q, closest, cursor, runs)[0] if cursor else None
    return {"own_order_ms": own_ms, "closest_ms": first_ms, "closest_second_page_ms": second_ms}


def measure(conn: psycopg.Connection[Any], t: Tables, runs: int) -> dict[str, Any]:
    """Each search, and beside it the words by prefix only (what a search was before
    decision 133, in any order)."""
    out = {}
    for label, q in SEARCHES.items():
        ms, found = timed(conn, *matching(t, "participant", q), runs)
        said = words(q)
        prefix = sql.SQL("SELECT person_id FROM {} WHERE {}").format(
            t["people"],
            sql.SQL(" AND ").join([sql.SQL("(folded LIKE %s OR folded LIKE %s)")] * len(said)),
        )
        only = [p for w in said for p in (w + "%", "% " + w + "%")]
        prefix_ms, prefix_found = timed(conn, prefix, only, runs)
        listed = pages(conn, t, q, runs)
        out[label] = {
            "q": q,
            "found": found,
            "median_ms": ms,
            "prefix_only_found": prefix_found,
            "prefix_only_median_ms": prefix_ms,
            "page": listed,
        }
        second = listed["closest_second_page_ms"]
        print(
            f"  {label:<52} q={q!r:<14} found {found:>4} in {ms:.2f} ms"
            f" (by prefix only {prefix_found:>4} in {prefix_ms:.2f} ms);"
            f" a page of {PAGE}: own order {listed['own_order_ms']:.2f} ms,"
            f" closest first {listed['closest_ms']:.2f} ms"
            + ("" if second is None else f", its next page {second:.2f} ms")
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    t = Tables("g_bench_search", 1)
    results: dict[str, Any] = {"people": args.people, "runs": args.runs, "at": stamp()}
    with scratch_database(args.database_url, "prowd_bench_search") as url:
        results["machine"] = machine_info(url)
        with psycopg.connect(url, autocommit=True) as conn:
            fill(conn, t, args.people)
            print(f"{args.people} participants:")
            results["searches"] = measure(conn, t, args.runs)
    path = write_json(f"search-{results['at']}.json", results)
    log(f"written to {path}")


if __name__ == "__main__":
    main()
