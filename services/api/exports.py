"""`/v1/grantees/{grantee}/exports`: the PIRL file of a quarter, and the register of past exports.

Generating a file is a `POST`: it appends an `ExportRegister.Generated` event (digest, rows, the
log position the file stands at) unless the file is byte for byte the quarter's last recorded
export, so every file that leaves the service is on record (docs/pirl.md). It takes an
`Idempotency-Key`. A `GET` never writes: it serves a file already recorded, regenerated and
checked against its digest (decision 136).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from domain.exports import CERTIFICATION_STATEMENT, Certification, ExportRecord, ExportRegister
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Cursor, Limit
from services.api.problems import ProblemError
from services.api.text import FreeText, Name
from services.app.exports import Exported
from services.reports import pirl
from services.reports.quarterly import QUARTER_PATTERN

# Litestar appends `; charset=utf-8` to a text/* type itself (naming it here doubled it).
CSV = "text/csv"
_DIGITS = re.compile(r"[0-9]{1,9}")
_QUARTER_PROBLEM = (
    400,
    "invalid_quarter",
    "'2026Q5' is not a quarter of the form YYYYQn from 1900Q1 to 2200Q4, e.g. 2026Q3",
)
_EXPORT_PROBLEMS = problems(
    _QUARTER_PROBLEM,
    (422, "quarter_not_started", "quarter 2027Q1 has not begun (it starts on 2027-01-01)"),
    (
        422,
        "pirl_edit_checks_failed",
        "the 2026Q3 file fails the PIRL edit checks: row 2 (Q3KX7...): exit_before_entry (...)",
    ),
    (409, "conflict", "the record was changed by another request at the same time"),
)
AllowWarnings = Annotated[
    bool,
    Parameter(
        description="serve a file whose rows fail only edit checks WIPS warns about"
        " (docs/pirl.md); failing errors refuse it whatever this says"
    ),
]
_HEADERS = [
    ResponseHeader(
        name="X-Export-Digest",
        description="SHA-256 (hex) of the body, as recorded in the export register",
        documentation_only=True,
    ),
    ResponseHeader(name="X-Export-Id", description="the export's id", documentation_only=True),
    ResponseHeader(
        name="X-Export-Stands-At",
        description="the last log position the file's data was read from",
        documentation_only=True,
    ),
    ResponseHeader(
        name="X-Log-Position",
        description="the position of the event that records the export",
        documentation_only=True,
    ),
]


class CertifyIn(msgspec.Struct, forbid_unknown_fields=True):
    signer_name: Annotated[Name, msgspec.Meta(min_length=1, max_length=200)]
    signer_title: Annotated[Name, msgspec.Meta(min_length=1, max_length=200)]
    statement: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)] = (
        CERTIFICATION_STATEMENT
    )


class CertificationOut(msgspec.Struct):
    sha256: str
    signer_name: str
    signer_title: str
    statement: str
    certified_by: str
    certified_at: datetime


class ExportOut(msgspec.Struct):
    id: UUID
    number: int
    format: str
    quarter: str
    sha256: str
    rows: int
    size: int
    stands_at: int
    elements_version: str
    requested_via: str
    requested_by: str
    generated_at: datetime
    # The official's signature on this file as the grantee's submission, once certified.
    certification: CertificationOut | None = None


class ExportPage(msgspec.Struct):
    items: list[ExportOut]
    next_cursor: str | None


def _certification(c: Certification | None) -> CertificationOut | None:
    if c is None:
        return None
    return CertificationOut(
        c.sha256, c.signer_name, c.signer_title, c.statement, c.certified_by, c.certified_at
    )


def _out(number: int, e: ExportRecord, c: Certification | None = None) -> ExportOut:
    return ExportOut(
        e.export_id,
        number,
        e.format,
        e.quarter,
        e.sha256,
        e.rows,
        e.size,
        e.stands_at,
        e.elements_version,
        e.requested_via,
        e.requested_by,
        e.generated_at,
        _certification(c),
    )


# What `pirl.parse_quarter` takes (a quarter not begun yet is a 422 of its own).
PirlQuarter = Annotated[
    str,
    Parameter(
        description="a calendar quarter from 1900Q1 to 2200Q4, e.g. 2026Q1",
        schema_extra={"pattern": QUARTER_PATTERN},
    ),
]


def parse_quarter(quarter: str) -> pirl.Quarter:
    try:
        return pirl.parse_quarter(quarter)
    except ValueError as e:
        raise ProblemError(400, "invalid_quarter", str(e)) from None


def _csv(tenant: Tenant, record: ExportRecord, data: bytes, **headers: str) -> Response[bytes]:
    name = f"pirl_{tenant.info.slug}_{record.quarter}.csv"
    return Response(
        data,
        media_type=CSV,
        headers={
            "X-Export-Digest": record.sha256,
            "X-Export-Id": str(record.export_id),
            "X-Export-Stands-At": str(record.stands_at),
            "Content-Disposition": f'attachment; filename="{name}"',
            **headers,
        },
    )


def _generate(
    request: Request[Any, Any, Any], tenant: Tenant, quarter: str, allow_warnings: bool
) -> Response[bytes]:
    q = parse_quarter(quarter)
    made: dict[str, Exported] = {}

    def execute(command: Any) -> Exported:
        made["now"] = tenant.app.exports.export_pirl(
            command, q, requested_via="api", allow_warnings=allow_warnings
        )
        return made["now"]

    def render(register: ExportRegister, position: int) -> tuple[ExportRecord, bytes]:
        exported = made.get("now")
        if exported is not None and exported.record is not None:
            return exported.record, exported.data
        # A replayed request renders the register as of its first answer: its last export.
        record = register.exports[-1]
        return record, tenant.app.exports.regenerate(record, register)

    answer = tenant_command(request, tenant, None, execute, render, status=201)
    record, data = answer.content
    response = _csv(tenant, record, data, **answer.headers)
    exported = made.get("now")
    # The same file as the quarter's last export: that export again, nothing appended.
    response.status_code = 200 if exported is not None and not exported.recorded else 201
    response.headers["Location"] = f"/v1/grantees/{tenant.info.slug}/exports/{record.export_id}"
    return response


def _numbered(register: ExportRegister, export_id: UUID) -> ExportOut:
    for number, record in enumerate(register.exports, start=1):
        if record.export_id == export_id:
            return _out(number, record, register.certifications.get(export_id))
    raise ProblemError(404, "not_found", "export not found")


class ExportController(Controller):
    # One controller registers both methods of `/pirl/{quarter}` together (a module-level POST
    # and GET on one path made Litestar wrap the first handler twice).
    path = "/v1/grantees/{grantee:str}/exports"
    tags = ["exports"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/pirl/{quarter:str}",
        opt=action("exports.pirl"),
        sync_to_thread=True,
        status_code=201,
        media_type=CSV,
        responses={
            **_EXPORT_PROBLEMS,
            200: ResponseSpec(
                bytes,
                description="the file is byte for byte the quarter's last recorded export:"
                " that export again (its own `X-Export-Id`), nothing recorded",
                media_type=CSV,
            ),
        },
        response_headers=_HEADERS,
    )
    def export_pirl(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        quarter: PirlQuarter,
        allow_warnings: AllowWarnings = False,
    ) -> Response[bytes]:
        """Generate and record the PIRL file of a calendar quarter `YYYYQn`: one CSV row per
        participant whose date of program entry (PIRL 900) is on or before the quarter's last
        day, with the elements of docs/pirl.md (header row: element numbers), dates YYYYMMDD,
        element 100 a pseudonym (never the SSN or a register number). The file is recorded in
        the export register with its SHA-256 (`X-Export-Digest`) and the log position it stands
        at (201); `Location` names the record. A file that is byte for byte the quarter's last
        recorded export (nothing in its facts changed) is that export again: 200 with its own
        `X-Export-Id`, nothing recorded. A retry with the same `Idempotency-Key` returns the
        first answer and records nothing."""
        return _generate(request, tenant, quarter, allow_warnings)

    @get(
        "/pirl/{quarter:str}",
        opt=action("exports.file"),
        sync_to_thread=True,
        media_type=CSV,
        responses=problems(
            _QUARTER_PROBLEM,
            (
                404,
                "export_not_recorded",
                "no PIRL file of 2026Q4 is recorded yet; generating and recording one is a POST"
                " to the same address",
            ),
            (
                409,
                "export_not_reproducible",
                "the file regenerated from log position 812 does not match the recorded digest",
            ),
        ),
        response_headers=_HEADERS[:3],
    )
    def download_pirl(self, tenant: Tenant, quarter: PirlQuarter) -> Response[bytes]:
        """The quarter's last recorded PIRL file, as it was recorded: regenerated from the log
        up to the position it stood at and served only if its SHA-256 equals the recorded one
        (else 409 `export_not_reproducible`); `X-Export-Id`, `X-Export-Digest` and
        `X-Export-Stands-At` are that export's. Records nothing, ever: a file reflecting the
        log as it stands now is made by `POST` on the same address. With no export of the
        quarter on record, 404 `export_not_recorded`. (Before decision 136 this `GET`
        generated and recorded a changed file; it no longer writes.)"""
        return _csv(tenant, *tenant.app.exports.recorded_pirl(parse_quarter(quarter)))

    @get(
        "/",
        opt=action("exports.read"),
        sync_to_thread=True,
        responses=problems(
            (400, "invalid_cursor", "the cursor is not one this list handed out"),
            _QUARTER_PROBLEM,
        ),
    )
    def list_exports(
        self,
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = "",
        quarter: Annotated[
            str | None, Parameter(description="only the exports of this quarter, e.g. 2026Q3")
        ] = None,
    ) -> ExportPage:
        """Past exports, newest first, each with its SHA-256, row count, the log position its
        data stands at and who asked for it; `quarter` keeps those of one quarter. Pages by
        `number` (`next_cursor`)."""
        if cursor and _DIGITS.fullmatch(cursor) is None:
            raise ProblemError(400, "invalid_cursor", "the cursor is not one this list handed out")
        only = str(parse_quarter(quarter)) if quarter is not None else None
        register = tenant.app.exports.export_register()
        exports, signed = register.exports, register.certifications
        before = int(cursor) if cursor else len(exports) + 1
        numbered = [
            (n, e)
            for n, e in enumerate(exports, start=1)
            if n < before and (only is None or e.quarter == only)
        ]
        page = [_out(n, e, signed.get(e.export_id)) for n, e in reversed(numbered[-limit:])]
        more = len(numbered) > limit
        return ExportPage(page, str(page[-1].number) if more and page else None)

    @get(
        "/{export_id:uuid}",
        opt=action("exports.read"),
        sync_to_thread=True,
        responses=problems((404, "not_found", "export not found")),
    )
    def export_detail(self, tenant: Tenant, export_id: UUID) -> ExportOut:
        """One recorded export: quarter, SHA-256 of the bytes served, rows, the log position it
        stands at, the element-table version and who asked for it."""
        return _numbered(tenant.app.exports.export_register(), export_id)

    @post(
        "/{export_id:uuid}/certification",
        opt=action("exports.certify"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "export not found"),
            (
                409,
                "already_certified",
                "export 7d0c… was certified by Dana Reyes on 2027-01-20; a corrected file is a"
                " new export",
            ),
            (422, "invalid_certification", "signer_name must hold 1 to 200 characters"),
            (
                422,
                "quarter_not_ended",
                "quarter 2026Q3 has not ended (its last day is 2026-09-30); its file can be"
                " certified from the day after",
            ),
        ),
    )
    def certify(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        export_id: UUID,
        data: Annotated[
            CertifyIn,
            body(
                "the coordinator signs the file submitted to DOL",
                {"signer_name": "Dana Reyes", "signer_title": "Program Coordinator"},
            ),
        ],
    ) -> Response[ExportOut]:
        """Certify a recorded PIRL file as the grantee's submission: the official's name and
        title as they sign, and the statement they affirm (a standard one unless given). The
        certification names the file's SHA-256, so what was signed is what `…/file`
        regenerates byte for byte. Once per file: a corrected submission is a new export,
        certified on its own (409 `already_certified`). The statement is a sentence of at least
        40 characters saying "I certify" or "we (hereby) certify" and denying it nowhere ("I do
        not certify", "unable to certify", "I certify nothing": 422 `invalid_certification`);
        a quarter that has
        not ended in the grantee's time zone is refused (422 `quarter_not_ended`)."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.exports.certify_export(
                cmd,
                export_id,
                signer_name=data.signer_name,
                signer_title=data.signer_title,
                statement=data.statement,
            ),
            lambda register, _: _numbered(register, export_id),
            status=201,
        )

    @get(
        "/{export_id:uuid}/file",
        opt=action("exports.file"),
        sync_to_thread=True,
        media_type=CSV,
        responses=problems(
            (404, "not_found", "export not found"),
            (
                409,
                "export_not_reproducible",
                "the file regenerated from log position 812 does not match the recorded digest",
            ),
        ),
        response_headers=_HEADERS[:3],
    )
    def export_file(self, tenant: Tenant, export_id: UUID) -> Response[bytes]:
        """A recorded export's file, regenerated from the log up to the position it stood at
        and served only if its SHA-256 equals the recorded one (else 409
        `export_not_reproducible`): what was submitted, byte for byte. Records nothing."""
        record = tenant.app.exports.export_record(export_id)
        return _csv(tenant, record, tenant.app.exports.regenerate(record))


ROUTES: list[Any] = [ExportController]
