"""A participant's document uploaded from the console, by multipart form posts against the real
application and PostgreSQL (frozen clock): the file forwarded to the API, listed on the page and
downloaded back; each refusal (no file, a type not allowed, an empty file, bytes that are not
the type, no title, a file over the document limit) a sentence beside its field that appends
nothing; a form sent twice records once; a body over the route's limit is the console's own
413 page; a peer mentor and an auditor have no link and are refused."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from services.api.app import create_app
from services.api.documents import FORM_OVERHEAD
from services.audit.disclosure import PART2_NOTICE, PART2_NOTICE_ABBREVIATED
from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import beside, csrf_of, key_of, refusal, sign_in

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% release papers\n"
# A small document limit for the limit tests (a 10 MiB upload is slow to build and send).
SMALL = 2048


@pytest.fixture(autouse=True)
def frozen(frozen_at) -> None:
    frozen_at(NOW, tick=True)


def send(
    client: Any, action: str, fields: dict[str, str], key: str, file: tuple[str, bytes, str] | None
) -> Any:
    """The upload form as a browser sends it: multipart, the file part, the CSRF token."""
    return client.post(
        action,
        data={**fields, "idempotency_key": key, "_csrf_token": csrf_of(client)},
        files={"file": file} if file else {"file": ("", b"", "application/octet-stream")},
        follow_redirects=False,
    )


def documents(client: Any, auth: Any, grantee: str, pid: str) -> list[dict[str, Any]]:
    r = client.get(
        f"/v1/grantees/{grantee}/participants/{pid}/documents",
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_a_document_is_uploaded_from_the_participant_page(
    browser, client, auth, db, grantee, enrol
):
    pid = enrol()["id"]
    sign_in(browser, "case_manager", grantee)
    action = f"/console/participants/{pid}/document"
    page = browser.get(f"/console/participants/{pid}").text
    section = page.split('id="h-documents"')[1].split("</section>")[0]
    assert f'href="{action}"' in section
    form = browser.get(action).text
    assert 'enctype="multipart/form-data"' in form
    assert re.search(r'<input id="file" name="file" type="file" accept="[^"]*application/pdf', form)
    assert "selected" not in form.split('name="kind"')[1].split("</select>")[0]
    key = key_of(form, action)
    good = {"title": "Release papers, FCI Elkton", "kind": "release_papers"}
    before = count_events(db, grantee)
    for fields, file, status, field, said in (
        (good, None, 422, "file", "The file: choose a file."),
        ({**good, "kind": ""}, ("r.pdf", PDF, "application/pdf"), 422, "kind", None),
        (
            good,
            ("r.zip", b"PK\x03\x04zip", "application/zip"),
            415,
            "file",
            "This file is application/zip: a document may be a PDF, a PNG image, a JPEG image,"
            " a plain text file or a Word document (.docx).",
        ),
        (
            good,
            ("empty.pdf", b"", "application/pdf"),
            422,
            "file",
            "The file is empty: choose the document itself.",
        ),
        (
            good,
            ("fake.pdf", b"<html>not a pdf</html>", "application/pdf"),
            422,
            "file",
            "This file is named as a PDF, but its contents are not: choose the document itself.",
        ),
        ({**good, "title": " "}, ("r.pdf", PDF, "application/pdf"), None, "title", None),
    ):
        r = send(browser, action, fields, key, file)
        if status:
            assert r.status_code == status, r.text
        else:
            assert r.status_code in (400, 422), r.text
        assert beside(r, field) == said if said else beside(r, field), refusal(r)
        assert 'id="refusal"' in r.text
        assert count_events(db, grantee) == before
    file = ("release.pdf", PDF, "application/pdf")
    r = send(browser, action, good, key, file)
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    assert r.headers["location"] == f"/console/participants/{pid}#h-documents"
    # Sent again (a retry): recorded once.
    assert send(browser, action, good, key, file).status_code == 303
    assert count_events(db, grantee) == before + 1
    projector.drain(db, f"g_{grantee}")
    (doc,) = documents(client, auth, grantee, pid)
    assert (doc["title"], doc["kind"], doc["content_type"]) == (
        "Release papers, FCI Elkton",
        "release_papers",
        "application/pdf",
    )
    shown = browser.get(f"/console/participants/{pid}").text
    assert "Document uploaded: Release papers, FCI Elkton." in shown
    download = f"/console/participants/{pid}/documents/{doc['id']}"
    assert f'href="{download}"' in shown
    got = browser.get(download)
    assert got.status_code == 200 and got.content == PDF
    assert "release.pdf" in got.headers["content-disposition"]


def test_a_part2_document_is_ticked_marked_and_downloaded_with_the_notice(
    browser, client, auth, db, grantee, enrol
):
    """Decision 131: the form's Part 2 box tags the document; the list marks it and says the
    §2.32 notice beside its link; the download carries the full notice, as the API's does."""
    pid = enrol()["id"]
    sign_in(browser, "case_manager", grantee)
    action = f"/console/participants/{pid}/document"
    form = browser.get(action).text
    assert re.search(r'<input type="checkbox" id="part2" name="part2" value="1"', form)
    key = key_of(form, action)
    fields = {"title": "RDAP progress letter", "kind": "letter", "part2": "1"}
    r = send(browser, action, fields, key, ("rdap.pdf", PDF, "application/pdf"))
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    other = key_of(browser.get(action).text, action)
    plain = {"title": "Certificate", "kind": "certificate"}
    r = send(browser, action, plain, other, ("c.pdf", PDF, "application/pdf"))
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    projector.drain(db, f"g_{grantee}")
    docs = {d["title"]: d for d in documents(client, auth, grantee, pid)}
    assert {t: d["part2"] for t, d in docs.items()} == {
        "RDAP progress letter": True,
        "Certificate": False,
    }
    page = browser.get(f"/console/participants/{pid}").text
    rows = page.split('id="h-documents"')[1].split("</section>")[0].split("<tr>")
    (tagged,) = [row for row in rows if "RDAP progress letter" in row]
    (untagged,) = [row for row in rows if "Certificate" in row]
    assert "42 CFR Part 2</span>" in tagged and PART2_NOTICE_ABBREVIATED in tagged
    assert "42 CFR Part 2" not in untagged and PART2_NOTICE_ABBREVIATED not in untagged
    got = browser.get(f"/console/participants/{pid}/documents/{docs['RDAP progress letter']['id']}")
    assert got.status_code == 200 and got.headers["part2-notice"] == PART2_NOTICE
    got = browser.get(f"/console/participants/{pid}/documents/{docs['Certificate']['id']}")
    assert got.status_code == 200 and "part2-notice" not in got.headers


@pytest.fixture(scope="module")
def small(settings, db) -> Iterator[TestClient[Any]]:
    """The application with a document limit of 2 KB."""
    app = create_app(dataclasses.replace(settings, document_max_bytes=SMALL), db)
    with TestClient(app) as c:
        yield c


def test_a_file_over_the_limit_is_said_beside_the_field_or_on_the_413_page(
    small, auth, db, make_grantee
):
    grantee = make_grantee()
    made = small.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": "1980-05-05",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        },
        headers=auth("coordinator", grantee),
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    sign_in(small, "case_manager", grantee)
    action = f"/console/participants/{pid}/document"
    form = small.get(action).text
    assert "at most 2 KB" in form
    key = key_of(form, action)
    good = {"title": "A scan", "kind": "other"}
    before = count_events(db, grantee)
    # Over the document limit, within the form around it: the API's refusal, by the file.
    big = PDF + b"x" * SMALL
    r = send(small, action, good, key, ("scan.pdf", big, "application/pdf"))
    assert r.status_code == 413, r.text
    said = "The file is larger than 2 KB, the most a document may be."
    assert beside(r, "file") == said and said in refusal(r)
    # Over what the route takes at all: the console's own page, not the API's problem.
    huge = PDF + b"x" * (SMALL + FORM_OVERHEAD)
    r = send(small, action, good, key, ("scan.pdf", huge, "application/pdf"))
    assert r.status_code == 413
    assert "<h1>File too large</h1>" in r.text
    assert "This file is too large to upload (more than 2 KB)." in r.text
    assert count_events(db, grantee) == before


@pytest.mark.parametrize("role", ["peer_mentor", "auditor"])
def test_a_role_that_may_not_upload_has_no_link_and_is_refused(browser, db, grantee, enrol, role):
    pid = enrol()["id"]
    sign_in(browser, role, grantee)
    action = f"/console/participants/{pid}/document"
    page = browser.get(f"/console/participants/{pid}")
    assert action not in page.text
    r = browser.get(action)
    assert r.status_code == 403
    said = "may upload a participant's document. Your role does not include it."
    assert said in html.unescape(r.text)
    before = count_events(db, grantee)
    good = {"title": "Release papers", "kind": "release_papers"}
    r = send(browser, action, good, "k" * 32, ("r.pdf", PDF, "application/pdf"))
    assert r.status_code == 403
    assert count_events(db, grantee) == before
