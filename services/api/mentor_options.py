"""`/v1/grantees/{grantee}/participants/{id}/mentor-options`: the grantee's certified mentors
for one participant as an individual mentee, each eligible or not with the rules that would
refuse the match (decision 112). The rules are the pairing command's own functions
(`Pairings.match_refusals`), run at the clock's instant; POST /pairings still decides."""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from domain.mentors import MentorSource
from domain.policy import MentorKind
from projections.mentors import certified_mentors
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import LIMIT_DEFAULT, Limit, MinPosition
from services.api.problems import ProblemError
from services.app.pairings import MentorOption


class OptionRefusal(msgspec.Struct):
    """A rule that would refuse the match: the code POST /pairings answers with, and its
    sentence."""

    code: str
    detail: str


class MentorOptionOut(msgspec.Struct):
    mentor_id: UUID
    display_name: str
    source: MentorSource
    eligible: Annotated[
        bool, msgspec.Meta(description="true when no rule below refuses the match now")
    ]
    reasons: Annotated[
        list[OptionRefusal],
        msgspec.Meta(
            description="what would refuse an individual match, in the order POST /pairings"
            " checks it (the first is its refusal); empty when eligible"
        ),
    ]
    kinds: Annotated[
        list[MentorKind],
        msgspec.Meta(description="the kinds of mentor this mentor is to this participant"),
    ]
    open_pairings: Annotated[int, msgspec.Meta(description="open pairings, groups included")]
    individual_mentees: Annotated[
        int, msgspec.Meta(description="open individual pairings, counted against the limit")
    ]
    caseload_limit: Annotated[
        int, msgspec.Meta(description="the policy's individual caseload limit")
    ]
    cleared_for: Annotated[
        list[str],
        msgspec.Meta(description="facilities the mentor holds an unexpired clearance for today"),
    ]


class MentorOptionsPage(msgspec.Struct):
    participant_id: UUID
    items: list[MentorOptionOut]
    next_cursor: str | None


BAD_CURSOR = "the cursor is not one this list handed out"


def _key(option: MentorOptionOut) -> tuple[int, str, str]:
    """Eligible first, then by name (case and accents ignored), then by id."""
    name = unicodedata.normalize("NFKD", option.display_name.casefold())
    folded = "".join(c for c in name if not unicodedata.combining(c))
    return (0 if option.eligible else 1, folded, str(option.mentor_id))


def _cursor(key: tuple[int, str, str]) -> str:
    return "~" + base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def _after(cursor: str) -> tuple[int, str, str] | None:
    if not cursor:
        return None
    try:
        if not cursor.startswith("~"):
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor[1:] + "=" * (-len(cursor[1:]) % 4))
        return msgspec.json.decode(raw, type=tuple[int, str, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ProblemError(400, "invalid_cursor", BAD_CURSOR) from None


def _out(option: MentorOption, caseload_limit: int) -> MentorOptionOut:
    mentor = option.mentor
    return MentorOptionOut(
        mentor_id=mentor.id,
        display_name=mentor.display_name,
        source=mentor.source,
        eligible=not option.refusals,
        reasons=[OptionRefusal(r.code, r.detail) for r in option.refusals],
        kinds=sorted(option.kinds),
        open_pairings=len(mentor.open_pairings),
        individual_mentees=len(mentor.individual_mentees),
        caseload_limit=caseload_limit,
        cleared_for=list(option.cleared_for),
    )


@get(
    "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/mentor-options",
    opt=action("pairings.write"),
    sync_to_thread=True,
    tags=["pairings"],
    responses=problems(
        (400, "invalid_cursor", BAD_CURSOR),
        (404, "not_found", "participant not found"),
    ),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def mentor_options(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    participant_id: UUID,
    limit: Limit = LIMIT_DEFAULT,
    cursor: Annotated[
        str, Parameter(max_length=400, description="`next_cursor` of the previous page")
    ] = "",
    eligible: Annotated[
        bool | None,
        Parameter(description="true: only the mentors no rule refuses; false: only the others"),
    ] = None,
    facility: Annotated[
        str | None,
        Parameter(
            max_length=16,
            pattern=r"^[A-Z0-9][A-Z0-9-]{1,15}$",
            description="the BOP institution or RRC the pairing would meet in: each mentor's"
            " volunteer clearance for it is checked (`clearance_required`); left out, no"
            " meeting place is checked",
        ),
    ] = None,
    min_position: MinPosition = None,
) -> MentorOptionsPage:
    """The grantee's certified mentors for this participant as an individual mentee, each
    `eligible` or not with the `reasons` (the codes and sentences POST /pairings refuses
    with, the same rules run at this instant), the `kinds` of mentor they are to the
    participant and their caseload against the limit. Eligible first, then by name. A
    mentor listed as eligible may still be refused when the match is sent (another match
    in between): the command decides."""
    after = _after(cursor)
    db = tenant.tenancy.db
    wait = request.app.state.settings.view_wait_max
    roster = views.tables(db, tenant.info.schema, "mentor_roster", min_position, wait)
    rules, options = tenant.app.pairings.mentor_options(
        participant_id, certified_mentors(db, roster), facility
    )
    rows = sorted(
        (_out(o, rules.max_individual_mentees) for o in options),
        key=_key,
    )
    rows = [
        r
        for r in rows
        if (eligible is None or r.eligible is eligible) and (after is None or _key(r) > after)
    ]
    page = rows[:limit]
    more = len(rows) > limit
    return MentorOptionsPage(participant_id, page, _cursor(_key(page[-1])) if more else None)


ROUTES: list[Any] = [mentor_options]
