"""Documents attached to a participant, over HTTP with the real app and PostgreSQL: uploaded
as multipart forms (type checked by the bytes, size limited), stored encrypted with the
participant's key outside the log, listed (paged, sorted), downloaded as attachments with an
access-log row, removed with a reason, and shredded by erasure; staff and auditors only."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.api.app import create_app
from services.projector import live, rebuilds
from services.settings import Settings
from services.store.database import Database
from tests.mentoring_helpers import Api

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\nRelease papers of the participant\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0" + bytes(60)
TEXT = "Certificate of completion: forklift operation, 40 hours — été.\n".encode()
LIMIT = 64 * 1024


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture(scope="module")
def small_client(settings: Settings, db: Database) -> Iterator[TestClient[Litestar]]:
    """The app with a 64 KiB document limit (PROWD_DOCUMENT_MAX_BYTES)."""
    app = create_app(dataclasses.replace(settings, document_max_bytes=LIMIT), db)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def api(small_client, auth, grantee, db) -> Api:
    return Api(small_client, auth, grantee, db)


def upload(
    api: Api,
    pid: str,
    content: bytes,
    content_type: str = "application/pdf",
    *,
    title: str = "Release papers",
    kind: str = "release_papers",
    filename: str = "release.pdf",
    role: str = "case_manager",
) -> Any:
    return api.client.post(
        f"{api.base}/participants/{pid}/documents",
        files={"file": (filename, content, content_type)},
        data={"title": title, "kind": kind},
        headers=api.headers(role),
    )


def blobs(api: Api) -> list[tuple[Any, ...]]:
    return api.db.fetchall(
        f'SELECT document_id, participant_id, data FROM "g_{api.slug}".document_blobs'
    )


def problem_of(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["type"] == f"urn:prowd:problem:{code}"


def test_upload_list_download_and_remove(api: Api) -> None:
    pid = api.enrol()
    r = upload(api, pid, PDF, filename="Entlassungspapiere Müller.pdf")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["kind"], doc["title"], doc["content_type"], doc["size"]) == (
        "release_papers",
        "Release papers",
        "application/pdf",
        len(PDF),
    )
    assert doc["attached_by"] == "test-case_manager"
    for content, media, kind in (
        (PNG, "image/png", "identification"),
        (JPEG, "image/jpeg", "identification"),
        (TEXT, "text/plain; charset=utf-8", "certificate"),
        (
            docx(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "letter",
        ),
    ):
        r = upload(api, pid, content, media, kind=kind, title=f"A {kind}", filename="f")
        assert r.status_code == 201, r.text
        position = r.json()["position"]

    # Listed: paged, sorted, filtered.
    path = f"/participants/{pid}/documents"
    everything = api.view(path, position)["items"]
    assert len(everything) == 5
    first = api.get(path, sort="-size", limit=2)
    sizes = [d["size"] for d in first["items"]]
    second = api.get(path, sort="-size", limit=2, cursor=first["next_cursor"])
    sizes += [d["size"] for d in second["items"]]
    assert sizes == sorted((d["size"] for d in everything), reverse=True)[:4]
    assert [d["kind"] for d in api.get(path, kind="identification")["items"]] == [
        "identification",
        "identification",
    ]
    r = api.client.get(api.base + path, params={"sort": "colour"}, headers=api.headers())
    problem_of(r, 400, "invalid_sort")

    # Downloaded: the bytes as stored, as an attachment, never cached; an access-log row.
    url = f"{api.base}{path}/{doc['id']}/content"
    r = api.client.get(url, headers=api.headers("auditor"))
    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    assert (
        "filename*=UTF-8''Entlassungspapiere%20M%C3%BCller.pdf" in r.headers["content-disposition"]
    )
    logged = api.db.fetchall(
        f'SELECT action, method, resources FROM "g_{api.slug}".access_log'
        " WHERE action LIKE 'documents.%%' ORDER BY id"
    )
    actions = [(a, m) for a, m, _ in logged]
    assert ("documents.write", "POST") in actions
    assert ("documents.read", "GET") in actions
    downloads = [res for a, _, res in logged if a == "documents.download"]
    assert [(d["participant_id"], d["document_id"]) for d in downloads] == [(pid, doc["id"])]

    # Removed with a reason: an event; the content is gone (410) and its stored bytes deleted.
    removal = f"{path}/{doc['id']}/removal"
    api.refused(removal, {"reason": "   "}, "reason_required")
    removed = api.post(removal, {"reason": "Uploaded to the wrong record."}, role="case_manager")
    assert removed["removal_reason"] == "Uploaded to the wrong record."
    problem_of(api.client.get(url, headers=api.headers()), 410, "document_removed")
    assert doc["id"] not in {str(b[0]) for b in blobs(api)}
    api.refused(removal, {"reason": "again"}, "already_removed")
    listed = api.view(path, removed["position"], removed="true")["items"]
    assert [(d["id"], d["removal_reason"]) for d in listed] == [
        (doc["id"], "Uploaded to the wrong record.")
    ]
    assert len(api.get(path, removed="false")["items"]) == 4

    # A document of another participant is not found under this one.
    other = api.enrol(first_name="Other", last_name="Person")
    r = api.client.get(
        f"{api.base}/participants/{other}/documents/{everything[0]['id']}/content",
        headers=api.headers(),
    )
    problem_of(r, 404, "not_found")


def test_refusals_leave_the_log_and_the_store_unchanged(api: Api) -> None:
    pid = api.enrol()
    before_events, before_blobs = api.events(), len(blobs(api))

    def refused(r: Any, status: int, code: str) -> None:
        problem_of(r, status, code)
        assert api.events() == before_events
        assert len(blobs(api)) == before_blobs

    refused(upload(api, pid, b"PK\x03\x04zip", "application/zip"), 415, "document_type_not_allowed")
    refused(upload(api, pid, PNG, "application/pdf"), 422, "document_content_mismatch")
    refused(
        upload(api, pid, b"MZ\x90\x00 an executable", "image/jpeg"),
        422,
        "document_content_mismatch",
    )
    refused(upload(api, pid, b"\x00\x01binary", "text/plain"), 422, "document_content_mismatch")
    refused(
        upload(
            api,
            pid,
            b"PK\x03\x04" + bytes(30),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        422,
        "document_content_mismatch",
    )
    refused(upload(api, pid, b""), 422, "document_empty")
    refused(upload(api, pid, PDF, title="   "), 422, "title_required")
    refused(upload(api, pid, PDF, kind="tattoo"), 400, "invalid_request")
    refused(upload(api, pid, PDF, title="Two\nlines"), 422, "invalid_text")
    # Over the limit: the file itself, and a body beyond the limit and the form around it.
    over = PDF + bytes(LIMIT)
    refused(upload(api, pid, over), 413, "document_too_large")
    refused(upload(api, pid, PDF + bytes(LIMIT * 3)), 413, "document_too_large")
    # Not a form.
    r = api.client.post(
        f"{api.base}/participants/{pid}/documents",
        json={"title": "x", "kind": "other"},
        headers=api.headers(),
    )
    refused(r, 415, "unsupported_media_type")
    # No such participant.
    refused(upload(api, "00000000-0000-4000-8000-000000000000", PDF), 404, "not_found")
    # Exactly at the limit is taken.
    r = upload(api, pid, PDF + bytes(LIMIT - len(PDF)))
    assert r.status_code == 201, r.text


def test_only_staff_write_and_only_staff_and_auditors_read(api: Api) -> None:
    pid = api.enrol()
    doc = upload(api, pid, PDF).json()
    path = f"{api.base}/participants/{pid}/documents"
    for role in ("peer_mentor", "rrc_staff", "federal_oversight"):
        for url in (path, f"{path}/{doc['id']}/content"):
            r = api.client.get(url, headers=api.headers(role))
            assert r.status_code in (403, 404), (role, url, r.status_code)
        assert upload(api, pid, PDF, role=role).status_code in (403, 404)
    assert upload(api, pid, PDF, role="auditor").status_code == 403
    for role in ("grantee_admin", "coordinator", "case_manager"):
        assert upload(api, pid, TEXT, "text/plain", role=role).status_code == 201


def test_stored_encrypted_and_shredded_by_erasure(api: Api) -> None:
    pid = api.enrol()
    secret = b"%PDF-1.4\nSSN 123-45-6789 and the release address\n%%EOF"
    doc = upload(api, pid, secret, title="Release papers with the home address").json()
    (row,) = [b for b in blobs(api) if str(b[0]) == doc["id"]]
    stored = bytes(row[2])
    assert b"123-45-6789" not in stored and stored != secret
    events = api.db.fetchall(f'SELECT state FROM "g_{api.slug}".events')
    assert all(b"123-45-6789" not in bytes(e[0]) for e in events)
    assert all(b"home address" not in bytes(e[0]) for e in events)

    r = api.client.post(
        f"{api.base}/participants/{pid}/erasure", json={"reason": "request"}, headers=api.headers()
    )
    assert r.status_code == 201, r.text
    erased_at = r.json()["position"]
    path = f"/participants/{pid}/documents"
    url = f"{api.base}{path}/{doc['id']}/content"
    problem_of(api.client.get(url, headers=api.headers()), 410, "document_erased")
    assert [b for b in blobs(api) if str(b[1]) == pid] == []
    (listed,) = api.view(path, erased_at)["items"]
    assert (listed["title"], listed["filename"], listed["sha256"], listed["erased"]) == (
        "[erased]",
        "[erased]",
        "[erased]",
        True,
    )
    problem_of(upload(api, pid, PDF), 422, "already_erased")

    # A rebuild of the view gives the same rows as the live path.
    schema = f"g_{api.slug}"
    before = live.digests(api.db, schema)["documents"]
    rebuilds.rebuild(api.db, schema, "documents")
    assert live.digests(api.db, schema)["documents"] == before


def test_a_form_part_that_is_not_text_nor_a_file_is_a_400(api: Api) -> None:
    pid = api.enrol()
    before = api.events()
    r = api.client.post(
        f"{api.base}/participants/{pid}/documents",
        content=(
            b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n\x16\xab\x97D\r\n'
            b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'
            b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n--b--\r\n'
        ),
        headers={**api.headers(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    problem_of(r, 400, "invalid_request")
    assert api.events() == before


def test_a_retried_upload_stores_once_and_file_names_are_cleaned(api: Api) -> None:
    pid = api.enrol()
    headers = {**api.headers(), "Idempotency-Key": "upload-release-papers-1"}
    answers = [
        api.client.post(
            f"{api.base}/participants/{pid}/documents",
            files={"file": ("C:\\Users\\cm\\release.pdf", PDF, "application/pdf")},
            data={"title": "Release papers", "kind": "release_papers"},
            headers=headers,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert answers[0].json()["filename"] == "release.pdf"
    assert [str(b[0]) for b in blobs(api) if str(b[1]) == pid] == [answers[0].json()["id"]]


def test_a_participant_without_a_data_key_is_refused_not_a_500(api: Api) -> None:
    """A record kept from before personal fields were encrypted has no key row: an upload
    for them would be unshreddable, so it is refused with a rule and nothing is stored."""
    from uuid import UUID

    from services.store import keys

    pid = api.enrol()
    with api.db.owner_connection() as conn:
        conn.execute(
            f'DELETE FROM "g_{api.slug}".participant_keys WHERE participant_id = %s', (pid,)
        )
    keys.STORE.evict(f"g_{api.slug}", UUID(pid))
    before_events, before_blobs = api.events(), blobs(api)
    problem_of(upload(api, pid, PDF), 422, "no_data_key")
    assert (api.events(), blobs(api)) == (before_events, before_blobs)
