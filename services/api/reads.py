"""A read of personal data in one database transaction with its access-log row (DESIGN D7,
decision 84).

The handler's queries and the row that records what they showed commit together, on one
pooled connection, in the handler's own worker thread: a row cannot be missing for a read
that answered, nor written for one whose queries failed, and the request costs one commit
instead of one per statement plus the row's own after a second thread hop. Each grantee's live
builds are read once for the whole request (`serving.one_lookup`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import structlog
from litestar import Request
from litestar.datastructures import State

from services.api.context import Tenant, access_entry, mark_recorded
from services.api.problems import ProblemError
from services.audit import access_log
from services.projector import serving

log = structlog.get_logger("prowd.access")


@contextlib.contextmanager
def recorded_read(request: Request[Any, Any, State], tenant: Tenant) -> Iterator[None]:
    """Run the block's queries in one transaction that also appends the access-log row of a
    successful answer (status 200); a row that cannot be written withholds the answer
    (`503 access_log_unavailable`, as the middleware answers)."""
    db = tenant.tenancy.db
    entry = access_entry(request, tenant.principal, 200)
    with db.session(), serving.one_lookup(), db.connection() as conn:
        with conn.transaction():
            yield
            if entry is None:
                return
            try:
                with conn.cursor() as cur:
                    access_log.insert_read(cur, tenant.info.schema, entry)
            except access_log.Unavailable as e:
                log.warning("access_log_unavailable", action=entry.action, error_class=str(e))
                raise ProblemError(
                    503,
                    "access_log_unavailable",
                    "the access log could not record this read, so its data is withheld;"
                    " retry shortly",
                    headers={"Retry-After": "2"},
                ) from None
        mark_recorded(request)
