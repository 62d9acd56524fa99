"""The export register: what each federal file that left the grantee was, and whom it named.

One register per grantee (a natural id) holds every PIRL export as an event with the SHA-256
of the bytes served, the log position the file stands at and the element-table version, so an
auditor sees exactly what was submitted and can regenerate it. It also assigns each participant
a random pseudonym the first time a file names them (PIRL element 100): never the SSN, the
participant number or a register number, and the same in every later file. Because every
export saves the register, two exports at the same moment are serialised by its version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from domain.common import (
    Conflict,
    NotFound,
    ProwdAggregate,
    RuleViolation,
    actor,
    natural_id,
    utcnow,
)

IDENTIFIER = re.compile(r"^[A-Z2-9]{12}$")
REGISTER_ID = natural_id("exports", "register")


class Pseudonym(msgspec.Struct, frozen=True):
    participant_id: UUID
    identifier: str


class ExportRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One file as it was served."""

    export_id: UUID
    format: str
    quarter: str
    sha256: str
    rows: int
    size: int
    stands_at: int  # the last log position the file's data was read from
    elements_version: str
    requested_via: str  # "api" or "cli"
    requested_by: str
    generated_at: datetime


# What a certifying official affirms unless the grantee words it otherwise.
CERTIFICATION_STATEMENT = (
    "I certify that, to the best of my knowledge and belief, the data in this file are true,"
    " complete and accurate, and are drawn from the grantee's own records."
)
_SIGNER_MAX = 200
_STATEMENT_MAX = 2000
# A statement is the official's own affirmation: long enough to be a sentence (a bare "OK" or a
# name typed twice is not a certification), saying "I certify" or "we (hereby) certify" in those
# words, and denying it nowhere: "I do not certify", "unable to certify" or "I certify nothing"
# contain the verb and certify nothing; "I certify that the data are false" takes it back.
# Checked when a file is signed, never on replay (the register holds what was signed, as it
# was signed).
STATEMENT_MIN = 40
_AFFIRMS = re.compile(r"\b(?:i|we)(?:\s*,[^,.;:!?]{1,120},)?\s+(?:do\s+)?(?:hereby\s+)?certify\b")
_DENIES = re.compile(
    r"\b(?:not|never|neither|nor|cannot|can'?t|won'?t|don'?t|didn'?t|couldn'?t|wouldn'?t"
    r"|unable\s+to|(?:decline[sd]?|refuse[sd]?|fail(?:s|ed)?)\s+to)\s+(?:\w+\s+){0,3}certif\w*"
    r"|\bcertif(?:y|ies|ied)\s+(?:nothing|none)\b"
)
# The verb affirmed and what it affirms taken back: the data called untrue ("are false", "are
# not accurate", "were fabricated"), or the official disowning them ("I do not stand behind
# them", "I disclaim"). A double negative affirms: "not misleading", "nothing in it is untrue".
_UNTRUE = (
    r"(?:false|untrue|inaccurate|incorrect|incomplete|wrong|unreliable|fabricated|fictitious"
    r"|invented|made\s+up|misleading|bogus)"
)
_TRUE = r"(?:true|accurate|correct|complete|reliable|right|genuine|valid)"
_CALLED_UNTRUE = re.compile(
    r"\b(?:is|are|was|were|be|been)(?:[\s,]+[\w']+){0,3}?[\s,]+"
    rf"(?:(?:not|never|in\s+no\s+way|by\s+no\s+means)\s+(?:[\w']+\s+)?{_TRUE}"
    rf"|(?<!not )(?<!never )(?<!\bno ){_UNTRUE})\b"
)
_NOTHING_UNTRUE = re.compile(r"\b(?:nothing|none|no\s+(?:part|figure|entry|record|data|datum))\b")
_DISOWNS = re.compile(
    r"\b(?:not|never|cannot|can'?t|don'?t|doesn'?t|didn'?t|won'?t)\s+(?:[\w']+\s+){0,2}?"
    r"(?:stand\s+(?:behind|by)|vouch|attest|affirm|warrant|guarantee|endorse|agree)\b"
    r"|\b(?:disclaim|retract|repudiate|withdraw)\w*"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _denial(words: str) -> str | None:
    """The first words of `words` that take the certification back, if any."""
    found: list[re.Match[str]] = []
    for pattern in (_DENIES, _DISOWNS):
        if match := pattern.search(words):
            found.append(match)
    for match in _CALLED_UNTRUE.finditer(words):
        clause = re.split(r"[.;:!?]", words[: match.start()])[-1]
        if not _NOTHING_UNTRUE.search(clause):
            found.append(match)
            break
    return min(found, key=lambda m: m.start()).group(0) if found else None


def check_statement(statement: str) -> None:
    """Refuse a statement that does not affirm the file in the official's own words."""
    words = " ".join(statement.translate(_APOSTROPHES).casefold().split())
    denied = _denial(words)
    if denied:
        raise RuleViolation(
            f'statement denies what it should affirm ("{denied}"): a certification'
            ' says "I certify …" or "We hereby certify …" and takes none of it back; if you'
            " cannot certify the file, do not sign it",
            code="invalid_certification",
        )
    if len(words) < STATEMENT_MIN or not _AFFIRMS.search(words):
        raise RuleViolation(
            f"statement must be a sentence of at least {STATEMENT_MIN} characters in which you"
            ' certify: "I certify that …" or "We hereby certify that …"',
            code="invalid_certification",
        )


class Certification(msgspec.Struct, frozen=True, kw_only=True):
    """A named official's signature on one recorded file: the digest they signed for, who they
    are (name and title as they signed; `certified_by`, the token's subject) and when."""

    export_id: UUID
    sha256: str
    signer_name: str
    signer_title: str
    statement: str
    certified_by: str
    certified_at: datetime


class ExportRegister(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        identifiers: dict[UUID, str]
        taken: set[str]
        exports: list[ExportRecord]
        certifications: dict[UUID, Certification]

    class Opened(ProwdAggregate.Created):
        def apply(self, r: Any) -> None:
            r.identifiers = {}
            r.taken = set()
            r.exports = []
            r.certifications = {}

    class IdentifiersAssigned(ProwdAggregate.Event):
        assignments: list[Pseudonym]

        def apply(self, r: Any) -> None:
            for a in self.assignments:
                r.identifiers[a.participant_id] = a.identifier
                r.taken.add(a.identifier)

    class Generated(ProwdAggregate.Event):
        export: ExportRecord

        def apply(self, r: Any) -> None:
            r.exports.append(self.export)

    @classmethod
    def open(cls) -> ExportRegister:
        register: ExportRegister = cls._create(cls.Opened, id=REGISTER_ID, occurred_at=utcnow())
        return register

    def assign(self, participant_ids: Iterable[UUID], new_identifier: Callable[[], str]) -> None:
        """Give every participant without a pseudonym a fresh, unique one."""
        assignments = []
        taken = set(self.taken)
        for participant_id in sorted(set(participant_ids) - set(self.identifiers)):
            identifier = new_identifier()
            while identifier in taken:
                identifier = new_identifier()
            if not IDENTIFIER.fullmatch(identifier):
                raise ValueError(f"malformed pseudonym {identifier!r}")
            taken.add(identifier)
            assignments.append(Pseudonym(participant_id, identifier))
        if assignments:
            self.trigger_event(
                self.IdentifiersAssigned, assignments=assignments, occurred_at=utcnow()
            )

    class Certified(ProwdAggregate.Event):
        certification: Certification

        def apply(self, r: Any) -> None:
            r.certifications[self.certification.export_id] = self.certification

    def record(self, export: ExportRecord) -> None:
        """Record a file as served."""
        self.trigger_event(self.Generated, export=export, occurred_at=export.generated_at)

    def find(self, export_id: UUID) -> ExportRecord | None:
        return next((e for e in self.exports if e.export_id == export_id), None)

    def last_of(self, quarter: str) -> ExportRecord | None:
        """The quarter's latest recorded file, if any."""
        return next((e for e in reversed(self.exports) if e.quarter == quarter), None)

    def certify(
        self, export_id: UUID, *, signer_name: str, signer_title: str, statement: str
    ) -> Certification:
        """Sign a recorded file as what the grantee submits: once per file (a corrected
        submission is a new export, certified on its own)."""
        record = self.find(export_id)
        if record is None:
            raise NotFound("export not found")
        earlier = self.certifications.get(export_id)
        if earlier is not None:
            raise Conflict(
                f"export {export_id} was certified by {earlier.signer_name} on"
                f" {earlier.certified_at.date()}; a corrected file is a new export",
                code="already_certified",
            )
        name, title, text = signer_name.strip(), signer_title.strip(), statement.strip()
        for value, what, most in (
            (name, "signer_name", _SIGNER_MAX),
            (title, "signer_title", _SIGNER_MAX),
            (text, "statement", _STATEMENT_MAX),
        ):
            if not value or len(value) > most:
                raise RuleViolation(
                    f"{what} must hold 1 to {most} characters", code="invalid_certification"
                )
        check_statement(text)
        certification = Certification(
            export_id=export_id,
            sha256=record.sha256,
            signer_name=name,
            signer_title=title,
            statement=text,
            certified_by=actor.get(),
            certified_at=utcnow(),
        )
        self.trigger_event(
            self.Certified, certification=certification, occurred_at=certification.certified_at
        )
        return certification
