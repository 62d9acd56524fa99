"""Per-request context: the principal, the grantee, the access check, the command runner."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath

from domain import clock, common
from domain.common import DomainError, ProwdAggregate
from domain.mentors import MentorStatus
from domain.participants import Participant
from services.api import csv_export, localtime
from services.api.problems import ProblemError
from services.app.grantee import GranteeApp
from services.app.tenancy import GranteeInfo, Tenancy
from services.audit import access_log
from services.identity import apikeys
from services.identity.access import MATRIX, allowed, only_own
from services.identity.tokens import NotAuthenticated, Principal, verify_token
from services.refusals import shown
from services.settings import Settings
from services.store.ledger import Command, DuplicateRequest, LedgerApplication, Saved, SideEffect

A = TypeVar("A", bound=ProwdAggregate)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def action(name: str) -> dict[str, Any]:
    """Route option naming the action of the role matrix a handler performs."""
    if name not in MATRIX:
        raise KeyError(name)
    return {"action": name}


async def provide_principal(request: Request[Any, Any, State]) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known  # authorised before the handler (`authorize`)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("a bearer token is required")
    token = token.strip()
    if apikeys.is_api_key(token):
        # An RRC system's key is looked up in the database: off the event loop.
        tenancy: Tenancy = request.app.state.tenancy
        principal = await anyio.to_thread.run_sync(apikeys.authenticate, tenancy.db, token)
        # What a key may do is checked with the role (`_check_action`): after the grantee, so
        # a key is told a grantee it does not cover is not found, whatever the route.
        request.state.api_key = True
    else:
        settings: Settings = request.app.state.settings
        principal = verify_token(settings, token)
    request.state.subject = principal.subject
    request.state.principal = principal
    return principal


async def authorize(request: Request[Any, Any, State]) -> None:
    """Before anything else looks at a request for a protected route (its body included):
    the token (401), the grantee (404 unless the token names it and it exists), the role
    (403). The dependencies repeat the last two cheaply; this fixes the order, so a caller
    without the right is never told whether its body would have been valid."""
    name = request.route_handler.opt.get("action")
    if name is None:
        return  # a public route
    principal = await provide_principal(request)
    slug = request.path_params.get("grantee")
    if isinstance(slug, str):
        tenancy: Tenancy = request.app.state.tenancy
        info = None
        if principal.may_see(slug):
            # Known grantees are answered from memory, without a trip to a worker thread.
            info = tenancy.known(slug) or await anyio.to_thread.run_sync(tenancy.grantee, slug)
        if info is None:
            raise ProblemError(404, "grantee_not_found", f"no grantee {shown(slug)}")
    _check_action(request, principal)


def _check_action(request: Request[Any, Any, State], principal: Principal) -> None:
    name = request.route_handler.opt.get("action")
    # A key serves its RRC's view and nothing else, whatever its role may read.
    if getattr(request.state, "api_key", False) and name not in apikeys.KEY_ACTIONS:
        raise ProblemError(403, "forbidden", "an RRC API key reads the RRC view only")
    if name is None or not allowed(name, principal.roles):
        raise ProblemError(403, "forbidden", "your role does not permit this action")


def provide_platform(
    request: Request[Any, Any, State], principal: NamedDependency[Principal]
) -> Tenancy:
    """Platform-scoped actions: the role check alone."""
    _check_action(request, principal)
    tenancy: Tenancy = request.app.state.tenancy
    return tenancy


@dataclass(frozen=True)
class Tenant:
    info: GranteeInfo
    app: GranteeApp
    principal: Principal
    tenancy: Tenancy


def provide_tenant(
    request: Request[Any, Any, State], grantee: FromPath[str], principal: NamedDependency[Principal]
) -> Tenant:
    """Grantee-scoped actions: 404 for a grantee outside the token, then the role check."""
    tenancy: Tenancy = request.app.state.tenancy
    request.state.grantee = grantee
    info = tenancy.grantee(grantee) if principal.may_see(grantee) else None
    if info is None:
        raise ProblemError(404, "grantee_not_found", f"no grantee {shown(grantee)}")
    _check_action(request, principal)
    app = tenancy.app(grantee)
    localtime.zone.set(app.zone)
    if csv_export.asks_for_csv(request.headers.get("accept", "")):
        csv_export.wanted.set(True)
        today = clock.now().astimezone(app.zone).date()
        csv_export.filename.set(csv_export.name_for(request.scope["path_template"], today))
    else:
        csv_export.wanted.set(False)
    return Tenant(info=info, app=app, principal=principal, tenancy=tenancy)


def mentors_of(tenant: Tenant, participant: Participant) -> set[str]:
    """Token subjects of the mentors in the participant's open pairings."""
    subjects = set()
    for pairing_id in participant.open_pairings:
        mentor = tenant.app.mentors.mentor(tenant.app.pairings.pairing(pairing_id).mentor_id)
        # A suspended or retired mentor keeps no access to the participants they mentored.
        if mentor.subject and mentor.status is MentorStatus.CERTIFIED:
            subjects.add(mentor.subject)
    return subjects


def check_own_mentee(tenant: Tenant, participant: Participant, action_name: str) -> None:
    """Where the caller's role may `action_name` only on own records (a peer mentor), the
    participant must be one they mentor now; otherwise the participant is not found."""
    if only_own(action_name, tenant.principal.roles) and tenant.principal.subject not in mentors_of(
        tenant, participant
    ):
        raise ProblemError(404, "not_found", "participant not found")


def fingerprint(request: Request[Any, Any, State], data: Any) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(msgspec.json.encode(data))
    return digest.hexdigest()


def run_command(
    request: Request[Any, Any, State],
    app: LedgerApplication,
    principal: Principal,
    data: Any,
    execute: Callable[[Command], Saved[A]],
    render: Callable[[A, int], Any],
    *,
    status: int = 200,
    grantee: str = "",
) -> Response[Any]:
    """Run a command once per `Idempotency-Key`: a retry gets the first response back."""
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ProblemError(
            400, "invalid_idempotency_key", "Idempotency-Key is 1-200 visible ASCII characters"
        )
    fp = fingerprint(request, data)
    if key is not None:
        # Keys are scoped to the caller: another user reusing a key never sees this answer.
        key = f"{len(principal.subject)}:{principal.subject}:{key}"
        replay = _replay(app, key, fp, render)
        if replay is not None:
            return replay
    common.actor.set(principal.subject)
    common.request_id.set(getattr(request.state, "request_id", ""))
    common.grantee.set(grantee)
    effects = _access_effect(request, app, principal, status) if grantee else ()
    try:
        command = Command(idempotency_key=key, fingerprint=fp, status=status, extra_effects=effects)
        with app.db.session():
            # An access check made inside the command on cached aggregates is rerun too.
            saved = app.run(lambda: execute(command), rerun_on=(ProblemError,))
    except (DuplicateRequest, DomainError):
        # A concurrent request with the same key committed first (its events collide with ours
        # before its key does, or the rerun from fresh state finds its change made): answer as
        # it was answered.
        replay = None if key is None else _replay(app, key, fp, render)
        if replay is None:
            raise
        return replay
    return Response(
        render(saved.aggregate, saved.position),
        status_code=status,
        headers={"X-Log-Position": str(saved.position)},
    )


def _access_effect(
    request: Request[Any, Any, State], app: LedgerApplication, principal: Principal, status: int
) -> tuple[SideEffect, ...]:
    """The access-log row of a command whose answer carries personal data, written by the
    statement that appends its events; the middleware then writes none."""
    entry = access_entry(request, principal, status)
    if entry is None:
        return ()
    return (access_log.side_effect(app.schema, entry, then=lambda: mark_recorded(request)),)


def access_entry(
    request: Request[Any, Any, State], principal: Principal, status: int
) -> access_log.Access | None:
    """The access-log row of this request's answer, if its action is recorded."""
    name = request.route_handler.opt.get("action")
    if not access_log.recorded(name):
        return None
    return access_log.Access(
        subject=principal.subject,
        roles=sorted(str(r) for r in principal.roles if r in MATRIX[str(name)].roles),
        action=str(name),
        method=request.method,
        path=request.url.path,
        resources=access_log.named_ids(request.path_params, request.scope.get("query_string", b"")),
        request_id=str(getattr(request.state, "request_id", "") or ""),
        status=status,
    )


def mark_recorded(request: Request[Any, Any, State]) -> None:
    """The request's access-log row is written: the middleware writes none."""
    request.scope.setdefault("state", {})["access_recorded"] = True


def tenant_command(
    request: Request[Any, Any, State],
    tenant: Tenant,
    data: Any,
    execute: Callable[[Command], Saved[A]],
    render: Callable[[A, int], Any],
    *,
    status: int = 200,
) -> Response[Any]:
    """`run_command` for a grantee-scoped command: the grantee's application, the caller and the
    grantee slug stamped on the events come from `tenant`."""
    return run_command(
        request,
        tenant.app.ledger,
        tenant.principal,
        data,
        execute,
        render,
        status=status,
        grantee=tenant.info.slug,
    )


def _replay(
    app: LedgerApplication, key: str, fp: str, render: Callable[[Any, int], Any]
) -> Response[Any] | None:
    prior = app.replayed(key)
    if prior is None:
        return None
    prior_fp, status, result = prior
    if prior_fp != fp:
        raise ProblemError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
    aggregate: Any = app.repository.get(result.aggregate_id, version=result.version)
    return Response(
        render(aggregate, result.position),
        status_code=status,
        headers={"X-Log-Position": str(result.position), "Idempotent-Replayed": "true"},
    )
