"""Documents holding 42 CFR Part 2 information (decision 131), over HTTP with the real app and
PostgreSQL: tagged when attached (`part2`), reclassified by staff with a reason, shown in the
list, downloaded with the §2.32 notice; events stored before the flag read as not Part 2; and
nothing about a document, Part 2 or not, leaves the grantee by any disclosure path."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.documents import Document
from projections.registry import PROJECTIONS
from services.audit.disclosure import PART2_NOTICE
from services.projector import live, rebuilds
from services.reports import pirl_facts
from services.webhooks.outbox import HANDLERS
from tests.mentoring_helpers import Api
from tests.test_documents import PDF, TEXT, api, problem_of, small_client, upload

__all__ = ["api", "small_client"]

NOTICE_HEADER = "part2-notice"
DOCUMENT_TOPICS = {
    get_topic(c) for c in (Document.Attached, Document.Removed, Document.Reclassified)
}


def attach(api: Api, pid: str, *, part2: str | None, title: str = "RDAP letter") -> Any:
    data = {"title": title, "kind": "letter"}
    if part2 is not None:
        data["part2"] = part2
    return api.client.post(
        f"{api.base}/participants/{pid}/documents",
        files={"file": ("rdap.pdf", PDF, "application/pdf")},
        data=data,
        headers=api.headers("case_manager"),
    )


def test_a_part2_document_is_listed_as_such_and_downloaded_with_the_notice(api: Api) -> None:
    pid = api.enrol()
    tagged = attach(api, pid, part2="true")
    assert tagged.status_code == 201, tagged.text
    assert tagged.json()["part2"] is True
    plain = upload(api, pid, TEXT, "text/plain", title="Certificate", kind="certificate")
    assert plain.json()["part2"] is False

    path = f"/participants/{pid}/documents"
    listed = api.view(path, plain.json()["position"], sort="title")["items"]
    assert [(d["title"], d["part2"]) for d in listed] == [
        ("Certificate", False),
        ("RDAP letter", True),
    ]
    assert [d["title"] for d in api.get(path, part2="true")["items"]] == ["RDAP letter"]

    def download(doc: Any, role: str = "case_manager") -> Any:
        r = api.client.get(f"{api.base}{path}/{doc['id']}/content", headers=api.headers(role))
        assert r.status_code == 200, r.text
        return r

    for role in ("case_manager", "auditor"):
        assert download(tagged.json(), role).headers[NOTICE_HEADER] == PART2_NOTICE
    assert NOTICE_HEADER not in download(plain.json()).headers


def test_bad_part2_values_are_refused_and_change_nothing(api: Api) -> None:
    pid = api.enrol()
    before = api.events()
    problem_of(attach(api, pid, part2="perhaps"), 400, "invalid_request")
    assert api.events() == before
    assert attach(api, pid, part2=None).json()["part2"] is False


def test_staff_reclassify_with_a_reason_and_the_rebuilt_view_agrees(api: Api) -> None:
    pid = api.enrol()
    doc = attach(api, pid, part2=None, title="Letter from the RRC").json()
    reclassify = f"/participants/{pid}/documents/{doc['id']}/part2"
    marked = api.post(
        reclassify, {"part2": True, "reason": "It names RDAP treatment."}, role="case_manager"
    )
    assert (marked["part2"], marked["part2_changed_by"], marked["part2_reason"]) == (
        True,
        "test-case_manager",
        "It names RDAP treatment.",
    )
    assert marked["part2_changed_at"]
    api.refused(reclassify, {"part2": True, "reason": "again"}, "part2_unchanged")
    api.refused(reclassify, {"part2": False, "reason": "  "}, "reason_required")
    for role in ("auditor", "peer_mentor", "rrc_staff", "federal_oversight"):
        r = api.client.post(
            api.base + reclassify, json={"part2": False, "reason": "x"}, headers=api.headers(role)
        )
        assert r.status_code in (403, 404), (role, r.status_code)
    before = api.events()
    r = api.client.post(
        api.base + reclassify, json={"part2": "yes", "reason": "x"}, headers=api.headers()
    )
    problem_of(r, 400, "invalid_request")
    assert api.events() == before

    (row,) = api.view(f"/participants/{pid}/documents", marked["position"])["items"]
    assert (row["part2"], row["part2_changed_by"]) == (True, "test-case_manager")

    cleared = api.post(reclassify, {"part2": False, "reason": "Wrong letter ticked."})
    assert cleared["part2"] is False
    (row,) = api.view(f"/participants/{pid}/documents", cleared["position"])["items"]
    assert (row["part2"], row["part2_changed_by"]) == (False, "test-coordinator")

    # The reason is personal: encrypted in the log.
    states = api.db.fetchall(f'SELECT state FROM "g_{api.slug}".events')
    assert all(b"Wrong letter ticked" not in bytes(s[0]) for s in states)

    api.post(f"/participants/{pid}/documents/{doc['id']}/removal", {"reason": "Duplicate."})
    api.refused(reclassify, {"part2": True, "reason": "late"}, "already_removed")

    # Erasure reads the reason as erased, the tag and who changed it stay.
    erased = api.post(f"/participants/{pid}/erasure", {"reason": "request"})
    (row,) = api.view(f"/participants/{pid}/documents", erased["position"])["items"]
    assert (row["part2"], row["part2_changed_by"], row["part2_reason"]) == (
        False,
        "test-coordinator",
        "[erased]",
    )

    schema = f"g_{api.slug}"
    live.drain(api.db, schema)
    before_rebuild = live.digests(api.db, schema)["documents"]
    rebuilds.rebuild(api.db, schema, "documents")
    assert live.digests(api.db, schema)["documents"] == before_rebuild


def test_an_attached_event_stored_before_the_flag_reads_as_not_part2(api: Api) -> None:
    pid = api.enrol()
    doc = upload(api, pid, PDF).json()
    (stored,) = api.db.fetchall(
        f'SELECT originator_id, originator_version, topic, state FROM "g_{api.slug}".events'
        " WHERE originator_id = %s",
        (doc["id"],),
    )
    state = json.loads(bytes(stored[3]))
    del state["part2"]
    old = StoredEvent(
        UUID(str(stored[0])),
        stored[1],
        stored[2],
        json.dumps(state, separators=(",", ":")).encode(),
    )
    # The app's own mapper decodes it, as a load or a rebuild would.
    event = api.client.app.state.tenancy.app(api.slug).ledger.mapper.to_domain_event(old)
    assert isinstance(event, Document.Attached)
    assert event.part2 is False
    assert event.title == "Release papers"


def test_nothing_about_a_document_leaves_the_grantee(api: Api) -> None:
    """RRC views, webhooks, the PIRL export and the oversight figures read no document event;
    only the documents view does. So a Part 2 document never leaves, with or without a consent,
    and no disclosure is logged for one."""
    assert DOCUMENT_TOPICS.isdisjoint(HANDLERS.topics)
    assert DOCUMENT_TOPICS.isdisjoint(pirl_facts.TOPICS)
    readers = {p.name for p in PROJECTIONS if DOCUMENT_TOPICS & p.topics}
    assert readers == {"documents"}

    pid = api.enrol()
    doc = attach(api, pid, part2="true").json()
    api.post(
        f"/participants/{pid}/documents/{doc['id']}/part2",
        {"part2": False, "reason": "Not a treatment record."},
    )
    assert api.db.fetchall(f'SELECT * FROM "g_{api.slug}".disclosures') == []
