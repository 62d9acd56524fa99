"""Row operations: the one definition of a view's logic, with two executors.

A handler says what happens to its view's rows as a few row operations (`Writer`): insert
(optionally from the rows of another table, optionally upserting), update by a condition,
delete, and reads by a condition. Values are plain Python values or one of the small
expressions of `expressions` (increment, array append/remove, coalesce, a JSON key put/drop, "erase",
a scalar look-up in another table of the view). Nothing else: any richer logic is Python in
the handler, over what a read returned.

Three executors run the same handlers:

- `SqlWriter` (the live projector's fallback, decision 90, and a rebuild's fallback): every
  operation becomes one SQL statement on the build's tables.
- `BatchStore` (`batch`, the live projector, decision 90): the rows a batch touches, loaded in
  passes with one statement per table, changed in memory as `MemoryStore` does and written
  back once per table.
- `MemoryStore` (rebuilds and replays): the rows live in Python dicts keyed by primary key
  (with hash indexes built on first use for other conditions); at the end each table is
  written once with COPY. No statement per event reaches the server.

Why: a rebuild sent about four statements per event, and psycopg's per-statement work plus
the server's was several times the cost of reading the log (docs/performance.md). Both
executors follow PostgreSQL's semantics for every operation here (NULL in arithmetic and
comparisons, `numeric` from a float, evaluation of every SET against the old row), and the
tests compare a rebuilt view's digest with the live view's.

The package, by concept: `expressions` (the `Writer` interface and its values), `spec` (tables
parsed from their DDL), `sql_writer` (the statement executor), `memory` and `rows` (the in-memory
executor), `batch` (the write-back executor) and `binary_copy` (writing a rebuild out). Views
import what they use from here.
"""

from projections.ops.expressions import (
    ADD_EXCLUDED,
    EXCLUDED,
    IS_NULL,
    Append,
    Col,
    Conflict,
    Contains,
    Erase,
    IfNull,
    Inc,
    JsonDrop,
    JsonPut,
    Ref,
    Remove,
    SortedAdd,
    Src,
    Writer,
)
from projections.ops.memory import MemoryStore
from projections.ops.spec import OutOfRange, TableSpec, check_range, parse_tables
from projections.ops.sql_writer import SqlWriter

__all__ = [
    "ADD_EXCLUDED",
    "EXCLUDED",
    "IS_NULL",
    "Append",
    "Col",
    "Conflict",
    "Contains",
    "Erase",
    "IfNull",
    "Inc",
    "JsonDrop",
    "JsonPut",
    "MemoryStore",
    "OutOfRange",
    "Ref",
    "Remove",
    "SortedAdd",
    "SqlWriter",
    "Src",
    "TableSpec",
    "Writer",
    "check_range",
    "parse_tables",
]
