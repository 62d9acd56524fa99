"""Use cases for imports: participants (with their stages) or mentors from a CSV or XLSX file.

A dry run reports row by row what the import would do; the import itself saves rows in
batches, each batch's records and the `Import.RowsApplied` event naming them in one
transaction, so the same file again adds nothing and a stopped import resumes after its last
saved row (decision 63). Each row goes through the aggregate methods the API's commands use
(services/app/import_rows.py), so a refusal carries the API's rule code and message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

import msgspec

from domain.common import DomainError, ProwdAggregate
from domain.imports import Import, ImportKind, Outcome, RowOutcome, import_id
from projections.search import PersonKeys
from services.app import enrolment_index
from services.app.batch import indexed_people
from services.app.facilities import Facilities
from services.app.import_file import ImportFile, check_size, read_import
from services.app.import_rows import Duplicate, Known, RowBuilder
from services.app.mentors import Mentors
from services.store.ledger import Command, LedgerApplication

BATCH = 500


class RowReport(msgspec.Struct, frozen=True, kw_only=True):
    """One row's outcome; `detail` is the rule's message (empty for rows saved by an earlier
    run, whose log keeps only the code)."""

    row: int
    outcome: Outcome
    code: str = ""
    detail: str = ""
    record_id: UUID | None = None


@dataclass
class ImportReport:
    import_id: UUID
    kind: ImportKind
    sha256: str
    rows: int
    dry_run: bool
    # Rows up to this one are saved (0: none); the import is finished when all are.
    applied_through: int
    finished: bool
    # True when the file had been imported completely before: nothing was added.
    already_imported: bool
    outcomes: list[RowReport] = field(default_factory=list)
    position: int = 0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)


@dataclass
class Imports:
    ledger: LedgerApplication
    facilities: Facilities
    mentors: Mentors

    def previous(self, kind: ImportKind, sha256: str) -> Import | None:
        """The import of this file so far, if any of it was saved."""
        if not self.ledger.exists(import_id(kind, sha256)):
            return None
        return self.ledger.load(Import, import_id(kind, sha256), "import")

    def import_file(
        self,
        kind: ImportKind,
        data: bytes,
        *,
        xlsx: bool,
        dry_run: bool,
        max_rows: int | None = None,
        wait: float = 5.0,
        batch: int = BATCH,
    ) -> ImportReport:
        """Dry-run or import the file `data` (CSV, or XLSX when `xlsx`): after any rows an
        earlier run saved, up to `max_rows` more rows (all when None), `batch` rows a
        transaction. `FileRefused` when the file cannot be imported as a whole."""
        check_size(data)
        sha256 = hashlib.sha256(data).hexdigest()
        previous = self.previous(kind, sha256)
        if previous is not None and previous.finished:
            # Known by its digest: answered without reading the file again.
            return self._report(previous, kind, sha256, previous.rows, dry_run)
        file = read_import(kind, data, xlsx=xlsx)
        report = self._report(previous, kind, sha256, len(file.rows), dry_run)
        done = report.applied_through
        builder = RowBuilder(
            self.facilities,
            Known.of(self._people(wait)),
            self.mentors,
            file.sha256,
            self.ledger.zone,
        )
        rows = self._outcomes(builder, file, after=done)
        if dry_run:
            report.outcomes.extend(r for r, _ in rows)
            return report
        run = previous or Import.start(kind=file.kind, sha256=file.sha256, rows=len(file.rows))
        pending: list[ProwdAggregate] = []
        reports: list[RowReport] = []
        for taken, (row, created) in enumerate(rows, start=1):
            pending.extend(created)
            reports.append(row)
            if len(reports) >= batch:
                self._save(run, reports, pending, report)
            if max_rows is not None and taken >= max_rows:
                break
        else:
            if reports:
                run.apply_rows(self._outcomes_of(reports))
            run.finish()
            report.finished = True
        self._save(run, reports, pending, report)
        return report

    def _save(
        self,
        run: Import,
        reports: list[RowReport],
        pending: list[ProwdAggregate],
        report: ImportReport,
    ) -> None:
        if reports and not report.finished:
            run.apply_rows(self._outcomes_of(reports))
        if not reports and not run.pending_events:
            return
        index = enrolment_index.writes(self.ledger.schema, pending)
        saved = self.ledger.record(run, Command(), also=pending, side_effects=index)
        report.position = saved.position
        report.outcomes.extend(reports)
        report.applied_through = run.applied_through
        reports.clear()
        pending.clear()

    @staticmethod
    def _report(
        previous: Import | None, kind: ImportKind, sha256: str, rows: int, dry_run: bool
    ) -> ImportReport:
        """The report of the rows an earlier run saved (none without one)."""
        finished = previous is not None and previous.finished
        return ImportReport(
            import_id(kind, sha256),
            kind,
            sha256,
            rows,
            dry_run,
            previous.applied_through if previous is not None else 0,
            finished,
            finished,
            [
                RowReport(row=o.row, outcome=o.outcome, code=o.code, record_id=o.record_id)
                for o in (previous.outcomes if previous is not None else [])
            ],
        )

    @staticmethod
    def _outcomes_of(reports: list[RowReport]) -> list[RowOutcome]:
        return [
            RowOutcome(row=r.row, outcome=r.outcome, code=r.code, record_id=r.record_id)
            for r in reports
        ]

    @staticmethod
    def _outcomes(
        builder: RowBuilder, file: ImportFile, *, after: int
    ) -> Iterator[tuple[RowReport, list[ProwdAggregate]]]:
        for number, row in file.rows:
            if number <= after:
                continue
            try:
                if file.kind is ImportKind.PARTICIPANTS:
                    created: list[ProwdAggregate] = [builder.participant(row)]
                else:
                    mentor, also = builder.mentor(number, row)
                    created = [mentor, *also]
            except Duplicate as e:
                yield (
                    RowReport(
                        row=number,
                        outcome=Outcome.DUPLICATE,
                        code=e.code,
                        detail=e.detail,
                        record_id=e.existing,
                    ),
                    [],
                )
                continue
            except DomainError as e:
                yield (
                    RowReport(row=number, outcome=Outcome.REFUSED, code=e.code, detail=e.detail),
                    [],
                )
                continue
            yield RowReport(row=number, outcome=Outcome.CREATED, record_id=created[0].id), created

    def _people(self, wait: float) -> list[PersonKeys]:
        """Everyone the search index holds once it has applied the whole log."""
        return indexed_people(self.ledger, wait)
