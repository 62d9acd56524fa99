"""`POST /v1/grantees/{grantee}/commands`: up to 500 commands in one transaction (decision 89).

Items are decided in order, each exactly as its single endpoint decides it (its body decoded
strictly, its role-matrix action, the handler's checks, the use case and the domain), and each
sees what the earlier items saved. A refused item gets the problem its single endpoint would
answer with and writes nothing; the accepted items' events commit together, in one
transaction (services/app/batch.py). Each item has its own idempotency key: an item whose key
was answered before is replayed, and a key reused with another body is refused with
`idempotency_key_reused`, as by the single endpoints.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter

from domain import common
from domain.common import DomainError
from domain.participants import Participant, PersonalDetails
from services.api.batch_kinds import KINDS, Kind
from services.api.body_errors import invalid_body
from services.api.context import IDEMPOTENCY_KEY, Tenant, action, provide_tenant
from services.api.dates import body_problem
from services.api.docs import body, problems
from services.api.duplicates import check_duplicates
from services.api.problems import Problem, ProblemError, handle_exception
from services.api.schemas.batch import (
    BATCH_EXAMPLE,
    BATCH_OUT_EXAMPLE,
    MAX_BYTES,
    MAX_ITEMS,
    BatchIn,
    BatchItem,
    BatchOut,
    ItemResult,
)
from services.api.schemas.participants import EnrollmentIn
from services.api.strict import NESTED
from services.app.batch import Attempt, BatchContended, BatchPeople, run_batch
from services.identity.access import allowed
from services.refusals import Refused, shown
from services.store.ledger import Command

_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REF = re.compile(rb'"\$ref:([A-Za-z0-9_.-]{1,64})"')


class _Refusal(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


@dataclass
class _Decided:
    index: int
    kind: str
    status: int
    id: UUID | None = None
    replayed_at: int | None = None  # a replay: its position (committed before this batch)
    same_as: int | None = None  # a key repeated in this batch: the earlier item's index
    problem: Problem | None = None


@dataclass
class _Batch:
    """One attempt's state across its items."""

    request: Request[Any, Any, Any]
    tenant: Tenant
    attempt: Attempt
    refs: dict[str, UUID] = field(default_factory=dict)
    # The record of each item decided so far (accepted or replayed), by index.
    ids: dict[int, UUID] = field(default_factory=dict)
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)
    people: BatchPeople | None = None
    # The batch's items: its enrolments are looked up together at the first duplicate check.
    items: list[BatchItem] = field(default_factory=list)

    def _people(self) -> BatchPeople:
        if self.people is None:
            wait = self.request.app.state.settings.view_wait_max
            self.people = BatchPeople(self.tenant.app.ledger, wait)
        return self.people

    def duplicates(self, personal: PersonalDetails) -> None:
        """409 `possible_duplicate`, as enrolment answers, for an enrolment matching someone
        enrolled before the batch (looked up in the search index, for all the batch's
        enrolments at once) or earlier in it."""
        people = self._people()
        if people.tables is None:
            people.look_up([personal, *_enrolments(self.items)])
        found = people.duplicate_of(personal)
        if found is None:
            return
        rule, existing = found
        earlier = self.attempt.unit.get(existing) if existing in self.attempt.unit.creates else None
        if not isinstance(earlier, Participant):
            # Enrolled before the batch: the single endpoint's own check names them all.
            check_duplicates(self.request, self.tenant, personal)
        raise ProblemError(
            409,
            "possible_duplicate",
            f"a participant is enrolled already ({rule}); enrol all the same with"
            " `duplicate_reason`",
            existing=[
                {
                    "participant_id": str(existing),
                    "number": earlier.number if isinstance(earlier, Participant) else "",
                    "rule": rule,
                }
            ],
        )

    def enrolled(self, record: object) -> None:
        """A participant this batch enrolled counts for the duplicates of the next items."""
        if isinstance(record, Participant):
            self._people().enrolled(record)


def _enrolments(items: list[BatchItem]) -> list[PersonalDetails]:
    """The people the batch's enrolments name (those whose body decodes as it stands; an
    item that names someone else once decided is looked up on its own)."""
    out = []
    for item in items:
        if item.kind != "participant.enrol":
            continue
        try:
            data = msgspec.json.decode(bytes(item.body), type=EnrollmentIn, strict=True)
        except (msgspec.MsgspecError, RecursionError):
            continue
        if not data.duplicate_reason.strip():
            out.append(
                PersonalDetails(
                    first_name=data.first_name,
                    last_name=data.last_name,
                    date_of_birth=data.date_of_birth,
                    bop_register_number=data.bop_register_number,
                )
            )
    return out


def _problem(request: Request[Any, Any, Any], exc: Exception) -> Problem:
    content = handle_exception(request, exc).content
    assert isinstance(content, Problem)
    return content


def _resolve(batch: _Batch, raw: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode()
        if name not in batch.refs:
            raise ProblemError(
                422,
                "unresolved_reference",
                f"$ref:{name} names no earlier item of this batch that was accepted",
            )
        return f'"{batch.refs[name]}"'.encode()

    return _REF.sub(one, raw) if b'"$ref:' in raw else raw


def _target(batch: _Batch, kind: Kind, item: BatchItem) -> UUID | None:
    if not kind.targeted:
        return None
    if item.target is None:
        raise ProblemError(
            400, "invalid_request", f"a {kind.name} item names its record in `target`"
        )
    text = _resolve(batch, f'"{item.target}"'.encode()).decode().strip('"')
    try:
        return UUID(text)
    except ValueError:
        raise ProblemError(404, "not_found", f"target {shown(item.target)} is not a UUID") from None


def _decode(kind: Kind, raw: bytes) -> Any:
    try:
        data = msgspec.json.decode(raw, type=kind.body, strict=True)
    except msgspec.ValidationError as e:
        status, code, detail, errors = invalid_body(raw, kind.body, e)
        raise ProblemError(status, code, detail, errors=errors) from None
    except msgspec.DecodeError as e:
        raise ProblemError(400, "invalid_request", f"the body is not JSON: {e}") from None
    except RecursionError:
        raise ProblemError(400, "invalid_request", NESTED) from None
    dates = body_problem(data)
    if dates is not None:
        raise _Refusal(dates.content)
    return data


def _decide(batch: _Batch, index: int, item: BatchItem) -> _Decided:
    decided = _decide_one(batch, index, item)
    record = decided.id if decided.same_as is None else batch.ids.get(decided.same_as)
    if record is not None:
        batch.ids[index] = record
        if item.ref is not None:
            batch.refs[item.ref] = record
    return decided


def _decide_one(batch: _Batch, index: int, item: BatchItem) -> _Decided:
    kind = KINDS.get(item.kind)
    if kind is None:
        raise ProblemError(422, "unknown_kind", f"no command kind {shown(item.kind)}")
    principal = batch.tenant.principal
    if not allowed(kind.action, principal.roles):
        raise ProblemError(403, "forbidden", "your role does not permit this action")
    if not IDEMPOTENCY_KEY.fullmatch(item.idempotency_key):
        raise ProblemError(
            400, "invalid_idempotency_key", "Idempotency-Key is 1-200 visible ASCII characters"
        )
    target = _target(batch, kind, item)
    data = _decode(kind, _resolve(batch, bytes(item.body)))
    execute = kind.factory(batch.request, batch.tenant, data, target, batch.duplicates)
    path = f"/v1/grantees/{batch.tenant.info.slug}{kind.path.format(target=target)}"
    digest = hashlib.sha256(f"POST {path}\n".encode())
    digest.update(msgspec.json.encode(data))
    fp = digest.hexdigest()
    key = f"{len(principal.subject)}:{principal.subject}:{item.idempotency_key}"
    earlier = batch.keys.get(key) or batch.attempt.prior.get(key)
    if earlier is not None:
        if earlier[0] != fp:
            raise ProblemError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
        return _replay(batch, index, kind, key)
    saved = execute(Command(idempotency_key=key, fingerprint=fp, status=kind.status))
    if kind.name == "participant.enrol":
        batch.enrolled(saved.aggregate)
    batch.keys[key] = (fp, index)
    return _Decided(index, kind.name, kind.status, id=saved.aggregate.id)


def _replay(batch: _Batch, index: int, kind: Kind, key: str) -> _Decided:
    if key in batch.keys:
        first = batch.keys[key][1]
        return _Decided(index, kind.name, kind.status, same_as=first)
    _, status, result = batch.attempt.prior[key]
    return _Decided(index, kind.name, status, id=result.aggregate_id, replayed_at=result.position)


def _refused(request: Request[Any, Any, Any], index: int, kind: str, exc: Exception) -> _Decided:
    problem = exc.problem if isinstance(exc, _Refusal) else _problem(request, exc)
    return _Decided(index, kind, problem.status, problem=problem)


def _results(slug: str, decided: list[_Decided], positions: dict[int, int]) -> list[ItemResult]:
    out = []
    for d in decided:
        if d.problem is not None:
            out.append(ItemResult(index=d.index, kind=d.kind, status=d.status, problem=d.problem))
            continue
        first = decided[d.same_as] if d.same_as is not None else d
        if d.replayed_at is not None:
            position = d.replayed_at
        elif first.replayed_at is not None:
            position = first.replayed_at
        else:
            position = positions.get(first.index, 0)
        record = first.id
        kind = KINDS[d.kind]
        out.append(
            ItemResult(
                index=d.index,
                kind=d.kind,
                status=d.status,
                id=record,
                location=f"/v1/grantees/{slug}{kind.record.format(id=record)}",
                position=position,
                replayed=d.replayed_at is not None or d.same_as is not None,
            )
        )
    return out


BatchKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Not read: each item carries its own `idempotency_key`.",
    ),
]


class BatchController(Controller):
    path = "/v1/grantees/{grantee:str}/commands"
    tags = ["commands"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("commands.batch"),
        sync_to_thread=True,
        status_code=200,
        request_max_body_size=MAX_BYTES,
        responses={
            200: ResponseSpec(
                data_container=BatchOut,
                description="every item's outcome, in order",
                generate_examples=False,
                examples=[Example(summary="two accepted, one refused", value=BATCH_OUT_EXAMPLE)],
            ),
            **problems(
                (413, "body_too_large", f"a batch's body is at most {MAX_BYTES} bytes"),
                (422, "batch_size", f"a batch holds 1 to {MAX_ITEMS} items"),
                (409, "batch_contended", "concurrent writers won 3 attempts; send the batch again"),
            ),
        },
    )
    def run_commands(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[BatchIn, body("enrol a participant, pair them, meet", BATCH_EXAMPLE)],
        idempotency_key: BatchKey = None,
    ) -> Response[BatchOut]:
        """Run up to 500 commands (participant.enrol, participant.stage_transition,
        mentor.register, pairing.open, meeting.schedule, meeting.held) in one transaction.
        Items are decided in order, each as its single endpoint decides it (body, role,
        rules) and seeing what earlier items saved; `$ref:NAME` stands for the record of the
        earlier item named NAME. A refused item gets its own problem and writes nothing; the
        accepted items' events commit together. Each item has its own idempotency key: sent
        again, the batch writes nothing and answers the same per-item results."""
        if not 1 <= len(data.items) <= MAX_ITEMS:
            raise ProblemError(
                422, "batch_size", f"a batch holds 1 to {MAX_ITEMS} items, not {len(data.items)}"
            )
        subject = tenant.principal.subject
        common.actor.set(subject)
        common.request_id.set(getattr(request.state, "request_id", ""))
        common.grantee.set(tenant.info.slug)
        keys = [f"{len(subject)}:{subject}:{item.idempotency_key}" for item in data.items]

        mentioned = [
            UUID(m.decode())
            for item in data.items
            for m in _UUID.findall(bytes(item.body) + (item.target or "").encode())
        ]

        def decide(attempt: Attempt) -> list[_Decided]:
            batch = _Batch(request, tenant, attempt, items=data.items)
            # The records the items name, read in one query (the rest as they are needed).
            attempt.unit.prefetch(mentioned)
            decided = []
            for index, item in enumerate(data.items):
                attempt.unit.item = index
                try:
                    decided.append(_decide(batch, index, item))
                except (_Refusal, ProblemError, Refused, DomainError) as e:
                    decided.append(_refused(request, index, item.kind, e))
                finally:
                    attempt.unit.end_item()
            return decided

        try:
            outcome = run_batch(tenant.app.ledger, keys, decide)
        except BatchContended as e:
            raise ProblemError(409, "batch_contended", str(e), headers={"Retry-After": "1"}) from e
        items = _results(tenant.info.slug, outcome.decided, outcome.positions)
        written = [i.position or 0 for i in items]
        position = max(written, default=0)
        out = BatchOut(
            items=items,
            accepted=sum(1 for i in items if i.problem is None and not i.replayed),
            replayed=sum(1 for i in items if i.replayed),
            refused=sum(1 for i in items if i.problem is not None),
            position=position,
            attempts=outcome.attempts,
        )
        return Response(out, status_code=200, headers={"X-Log-Position": str(position)})


ROUTES = [BatchController]
