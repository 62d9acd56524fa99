"""Personal fields, named once: what oversight (DOL) responses must never carry.

The list covers the personal details of participants and mentors in the domain's events and
the API's bodies (names, date of birth, register and participant numbers, contact details),
free text that may describe a person (notes, summaries, comments, descriptions, evidence,
goal statements), and identifiers that single a person out (participant and mentor ids, token
subjects). Aggregate reports are checked against it before they leave (`check`), and the
privacy tests walk every oversight response against it.
"""

from __future__ import annotations

from typing import Any

PERSONAL_FIELDS: frozenset[str] = frozenset(
    {
        # who the person is
        "first_name",
        "last_name",
        "display_name",
        "date_of_birth",
        "personal",
        "number",
        "register_number",
        "bop_register_number",
        "ssn",
        # how to reach them
        "phone",
        "email",
        "address",
        # free text about them
        "note",
        "notes",
        "summary",
        "confidential_note",
        "comment",
        "description",
        "evidence",
        "statement",
        "reason",
        "resolution",
        # identifiers that single them out
        "participant_id",
        "mentor_id",
        "subject",
        "recorded_by",
    }
)


def personal_keys(doc: Any) -> set[str]:
    """The personal fields among the keys of a JSON document, at any depth (walked with a
    stack, not a recursive generator: the platform-wide report over 500 grantees has some
    200,000 keys)."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.update(PERSONAL_FIELDS.intersection(map(str, node)))
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return found


class PersonalDataLeak(Exception):
    """An aggregate response was about to carry a personal field."""


def check(doc: Any) -> None:
    """Refuse to let a document with a personal field out (a programming error: HTTP 500)."""
    found = personal_keys(doc)
    if found:
        raise PersonalDataLeak(
            "personal fields in an aggregate response: " + ", ".join(sorted(found))
        )
