"""Parameter and field types shared by the API modules."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.params import Parameter

from services.api.text import FreeText

# A facility or cohort code.
Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9-]{1,15}$", examples=["FCI-ELK"])]
# Free text of a note, summary or comment.
LongText = Annotated[FreeText, msgspec.Meta(max_length=4000)]

Limit = Annotated[int, Parameter(ge=1, le=500, description="page size")]
# The largest log position (bigint): a query parameter beyond it is refused, not compared.
MAX_POSITION = 2**63 - 1
Cursor = Annotated[str, Parameter(max_length=64, description="`next_cursor` of the previous page")]
MinPosition = Annotated[
    int | None,
    Parameter(
        ge=0,
        le=MAX_POSITION,
        description="wait (bounded) until the views have applied this log position",
        # Litestar leaves a bound of 0 out of the schema of an optional parameter.
        schema_extra={"minimum": 0},
    ),
]
# Where keyset pages over uuid keys start.
FIRST_UUID = "00000000-0000-0000-0000-000000000000"
