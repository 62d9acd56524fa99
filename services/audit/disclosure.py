"""Part 2 disclosures: the consent check, the §2.32 notice and the disclosure log (DESIGN D8).

Every path by which information about a participant leaves the grantee (the RRC view, webhooks,
exports) asks `covering_consent` before it sends Part 2-tagged information, attaches
`PART2_NOTICE` to what it sends under a consent, and writes one `record_disclosure` row per
disclosure in the same transaction as its own bookkeeping.

Recipients are named `rrc:<FACILITY CODE>` for a Residential Reentry Center and `export:pirl`
for the federal export; channels are `rrc_view`, `webhook` and `export`.

The consent lookup reads `g_<slug>.consents`, the index of the consent aggregates, which is
written in the same transaction as their events (services/app/consents.py): a revocation is in
force from the moment it commits, never after a projection catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.consents import CATEGORIES
from services.store.database import Database

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "PART2_NOTICE",
    "PART2_NOTICE_ABBREVIATED",
    "Grant",
    "covering_consent",
    "record_disclosure",
]

CHANNELS = ("rrc_view", "webhook", "export")

# 42 CFR §2.32(a)(1), "Statement 1", as amended by the 2024 final rule (89 FR 12472,
# Feb. 16, 2024): the written statement that must accompany each disclosure made with the
# patient's written consent. Verbatim text of the regulation, not a paraphrase. Source checked:
# https://compliancecosmos.org/notice-and-copy-consent-accompany-disclosure (§ 2.32 "Notice and
# copy of consent to accompany disclosure", current text; its stored copy shows the statement
# through "unless at least one of the following applies:"); the three conditions and the last
# sentence follow the same section as published in the Federal Register (89 FR 12472).
PART2_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or "
    "testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR "
    "2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or "
    "disclosure of this record unless at least one of the following applies: "
    "(i) Further use or disclosure is expressly permitted by the written consent of the "
    "individual whose information is being disclosed in this record or as otherwise permitted "
    "by 42 CFR part 2. "
    "(ii) You are a covered entity or business associate and have received the record for "
    "treatment, payment, or health care operations, or "
    "(iii) You have received the record from a covered entity or business associate as "
    "permitted by 45 CFR part 164, subparts A and E. "
    "A general authorization for the release of medical or other information is NOT "
    "sufficient to meet the required elements of written consent to further use or "
    "redisclose the record (see 42 CFR 2.31)."
)

# §2.32(a)(2), "Statement 2": the abbreviated alternative, for channels with no room for the
# full statement. PART2_NOTICE is what the API and webhooks attach.
PART2_NOTICE_ABBREVIATED = (
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
)


@dataclass(frozen=True)
class Grant:
    """A consent in force: its id (for the disclosure log), recipient and end, if dated."""

    consent_id: UUID
    recipient: str
    expires_at: datetime | None
    information: tuple[str, ...] = ()


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the instant of a disclosure must carry a UTC offset")
    return at


def covering_consent(
    db: Database,
    schema: str,
    participant_id: UUID,
    recipient: str,
    at: datetime,
    *,
    information: str = "meeting_summaries",
) -> Grant | None:
    """The consent that lets Part 2-tagged information about the participant go to `recipient`
    at instant `at`: recorded, signed, not expired at `at`, not revoked before `at`. None if none.

    `information` is the category about to be disclosed (a consent names the categories it
    covers); meeting summaries by default, the only Part 2-tagged content so far. One indexed
    query; when several consents cover the instant, the most recently signed one is returned.
    """
    row = db.fetchone(
        sql.SQL(
            "SELECT consent_id, recipient, expires_at, information FROM {}.consents"
            " WHERE participant_id = %(p)s AND recipient = %(r)s AND effective_at <= %(at)s"
            " AND (expires_at IS NULL OR expires_at > %(at)s)"
            " AND (revoked_at IS NULL OR revoked_at > %(at)s)"
            " AND %(info)s = ANY(information)"
            " ORDER BY effective_at DESC, consent_id LIMIT 1"
        ).format(sql.Identifier(schema)),
        {"p": participant_id, "r": recipient, "at": _aware(at), "info": information},
    )
    if row is None:
        return None
    return Grant(consent_id=row[0], recipient=row[1], expires_at=row[2], information=tuple(row[3]))


def record_disclosure(
    cur: Cursor[TupleRow],
    schema: str,
    *,
    participant_id: UUID,
    recipient: str,
    channel: str,
    information: str,
    part2: bool,
    consent_id: UUID | None,
    reference: str,
    at: datetime,
    actor: str,
) -> None:
    """Append one row to the grantee's append-only `disclosures` table (the disclosure log).
    `reference` identifies what went out (webhook message id, request id, export digest).

    Raises ValueError for an unknown channel, a naive instant, or Part 2 information without
    a consent (the table refuses the last too).
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown disclosure channel {channel!r}")
    if part2 and consent_id is None:
        raise ValueError("Part 2 information is disclosed only under a consent")
    cur.execute(
        sql.SQL(
            "INSERT INTO {}.disclosures (participant_id, recipient, channel, information, part2,"
            " consent_id, reference, disclosed_at, actor)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema)),
        (
            participant_id,
            recipient,
            channel,
            information,
            part2,
            consent_id,
            reference,
            _aware(at),
            actor,
        ),
    )
