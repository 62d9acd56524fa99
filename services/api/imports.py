"""`/v1/grantees/{grantee}/imports`: participants (with their stages) or mentors from a CSV or
XLSX file, dry-run or imported, idempotent per file and resumable (docs/import.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, post
from litestar.di import Provide
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import HeaderParameter, Parameter

from domain import common
from domain.imports import ImportKind, Outcome
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.problems import ProblemError
from services.api.text import TEXT_PATTERN
from services.app.import_file import CSV_TYPES, MAX_BYTES, XLSX_TYPE, FileRefused
from services.app.imports import ImportReport, RowReport
from services.identity.access import allowed
from services.refusals import shown


class ImportOut(msgspec.Struct):
    import_id: UUID
    kind: ImportKind
    sha256: str
    rows: int
    dry_run: bool
    applied_through: int
    finished: bool
    already_imported: bool
    created: int
    duplicates: int
    refused: int
    outcomes: list[RowReport]
    position: int | None = None


def render(report: ImportReport) -> ImportOut:
    return ImportOut(
        report.import_id,
        report.kind,
        report.sha256,
        report.rows,
        report.dry_run,
        report.applied_through,
        report.finished,
        report.already_imported,
        report.count(Outcome.CREATED),
        report.count(Outcome.DUPLICATE),
        report.count(Outcome.REFUSED),
        report.outcomes,
        report.position or None,
    )


CSV_EXAMPLE = (
    "first_name,last_name,date_of_birth,bop_register_number,program_entry_date,facility,cohort,"
    "stage,placement,stage_facility,stage_date\n"
    "Luis,Ortega,1988-04-12,12345-678,2026-02-02,FCI-A,C1,,,,\n"
    "Maria,Nunez,1979-11-30,22345-678,2026-02-02,FCI-A,C1,2,rrc,RRC-1,2026-06-01\n"
)


@dataclass
class ImportOperation(Operation):
    """The operation with its (non-JSON) request body: the file itself."""

    def __post_init__(self) -> None:
        # A CSV holds no control character but tab and line breaks; its cells are held to
        # the one-line rule (422 import_invalid_cells).
        csv = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.STRING, pattern=TEXT_PATTERN), example=CSV_EXAMPLE
        )
        xlsx = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))
        self.request_body = RequestBody(
            content={"text/csv": csv, XLSX_TYPE: xlsx},
            required=True,
            description="the file: CSV (UTF-8) or XLSX (first sheet), header row first",
        )


ImportKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Accepted and not needed: an import is idempotent by its file (SHA-256);"
        " the same file again adds nothing and a stopped one resumes.",
    ),
]


class ImportController(Controller):
    path = "/v1/grantees/{grantee:str}/imports"
    tags = ["imports"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        # A body over the limit is refused by the framework before the handler reads it: said
        # with the import's own code, as the documents' upload does.
        opt={**action("imports.run"), "too_large": "import_too_large"},
        status_code=200,
        request_max_body_size=MAX_BYTES,
        operation_class=ImportOperation,
        responses=problems(
            (400, "import_not_utf8", "the file is not UTF-8 (byte 17)"),
            (400, "import_unreadable", "the file is not an XLSX workbook"),
            (413, "import_too_large", "an import file has at most 100000 rows"),
            (415, "unsupported_media_type", "send the file as text/csv or XLSX"),
            (422, "import_empty", "the file holds no header and data rows"),
            (422, "import_unknown_columns", "columns not in the participants layout: nickname"),
            (422, "import_missing_columns", "required columns missing: cohort"),
            (422, "import_invalid_cells", "3 cells are not of their column's type"),
            (409, "conflict", "another run of this file saved rows at the same time; retry"),
        ),
    )
    async def run_import(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        kind: Annotated[
            Literal["participants", "mentors"],
            Parameter(description="what the file's rows are (docs/import.md)"),
        ],
        dry_run: Annotated[
            bool, Parameter(description="report what would happen, save nothing")
        ] = False,
        max_rows: Annotated[
            int | None,
            Parameter(
                ge=1,
                le=100_000,
                description="save at most this many more rows, then stop (resumable)",
            ),
        ] = None,
        idempotency_key: ImportKey = None,
    ) -> ImportOut:
        """Import participants (with their stages) or mentors from a CSV or XLSX file, or with
        `dry_run` report row by row what the import would create, refuse (with the rule) or
        match as a duplicate. The same file again adds nothing; a stopped import resumes."""
        which = ImportKind(kind)
        if which is ImportKind.MENTORS and not allowed("mentors.write", tenant.principal.roles):
            raise ProblemError(403, "forbidden", "your role does not permit registering mentors")
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in (*CSV_TYPES, XLSX_TYPE):
            raise ProblemError(
                415,
                "unsupported_media_type",
                f"send the file as text/csv or {XLSX_TYPE}, not {shown(media) if media else 'without a type'}",
            )
        data = await request.body()
        subject = tenant.principal.subject
        request_id = str(getattr(request.state, "request_id", "") or "")

        def work() -> ImportReport:
            common.actor.set(subject)
            common.request_id.set(request_id)
            common.grantee.set(tenant.info.slug)
            try:
                with tenant.app.ledger.db.session():
                    return tenant.app.imports.import_file(
                        which,
                        data,
                        xlsx=media == XLSX_TYPE,
                        dry_run=dry_run,
                        max_rows=max_rows,
                        wait=request.app.state.settings.view_wait_max,
                    )
            except FileRefused as e:
                raise ProblemError(
                    e.status, e.code, e.detail, errors=e.context.get("errors")
                ) from None

        return render(await anyio.to_thread.run_sync(work))


ROUTES = [ImportController]
