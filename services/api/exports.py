"""`/v1/grantees/{grantee}/exports`: the PIRL file of a quarter, and the register of past exports.

Generating a file appends an `ExportRegister.Generated` event (digest, rows, the log position the
file stands at), whether it is asked for with `POST` or with `GET` (docs/pirl.md): every file
that leaves the service is on record. Both take an `Idempotency-Key`; a retry with the same key
gets the same file back and records nothing.
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
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter: str,
    status: int,
    allow_warnings: bool = False,
) -> Any:
    q = parse_quarter(quarter)
    fresh: dict[UUID, bytes] = {}

    def execute(command: Any) -> Exported:
        exported = tenant.app.exports.export_pirl(
            command, q, requested_via="api", allow_warnings=allow_warnings
        )
        fresh[exported.aggregate.exports[-1].export_id] = exported.data
        return exported

    def render(register: ExportRegister, position: int) -> tuple[ExportRecord, bytes]:
        # A replayed request renders the register as of its first answer: its last export.
        record = register.exports[-1]
        data = fresh.get(record.export_id)
        return record, data if data is not None else tenant.app.exports.regenerate(record, register)

    answer = tenant_command(request, tenant, None, execute, render, status=status)
    record, data = answer.content
    response = _csv(tenant, record, data, **answer.headers)
    response.status_code = answer.status_code
    if status == 201:
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
        responses=_EXPORT_PROBLEMS,
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
        at; `Location` names the record. The same quarter exported again with nothing changed
        gives the same bytes; a retry with the same `Idempotency-Key` returns the first file
        and records nothing."""
        return _generate(request, tenant, quarter, 201, allow_warnings)  # type: ignore[no-any-return]

    @get(
        "/pirl/{quarter:str}",
        opt=action("exports.pirl"),
        sync_to_thread=True,
        media_type=CSV,
        responses=_EXPORT_PROBLEMS,
        response_headers=_HEADERS,
    )
    def download_pirl(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        quarter: PirlQuarter,
        allow_warnings: AllowWarnings = False,
    ) -> Response[bytes]:
        """The PIRL file of a calendar quarter `YYYYQn`. When the file the log gives now is
        byte for byte the quarter's last recorded export, that export is served again
        (`X-Export-Id`, `X-Export-Digest` and `X-Export-Stands-At` are its own) and nothing is
        recorded: a download again is a read, in the access log like any read of personal
        data. Otherwise the file is generated and recorded exactly as by `POST` on the same
        path (every file that leaves the service is on record). One CSV row per participant
        whose date of program entry (PIRL 900) is on or before the quarter's last day; dates
        YYYYMMDD; element 100 a pseudonym. A retry with the same `Idempotency-Key` returns the
        first file and records nothing."""
        again = tenant.app.exports.served_again(
            parse_quarter(quarter), allow_warnings=allow_warnings
        )
        if again is not None:
            return _csv(tenant, *again)
        return _generate(request, tenant, quarter, 200, allow_warnings)  # type: ignore[no-any-return]

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
        40 characters with the word "certify" (422 `invalid_certification`); a quarter that has
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
