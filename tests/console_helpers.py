"""Signing in to the staff console from a test client (the development sign-in form)."""

from __future__ import annotations

import html
import re
from typing import Any

CSRF = "prowd_csrf"


def shown(page: str) -> str:
    """A page's markup without the `<bdi>` isolating each value it shows (decision 130): what
    a test compares with the words a person reads; tests/test_bidi_names.py checks the
    isolation itself."""
    return re.sub(r"</?bdi>", "", page)


def csrf_of(client: Any) -> str:
    """The CSRF cookie (set by the first GET of a console page)."""
    if CSRF not in client.cookies:
        client.get("/console/sign-in")
    return str(client.cookies[CSRF])


def sign_in(client: Any, role: str, grantee: str, subject: str = "", rrc: str = "") -> Any:
    client.get("/console/sign-in")
    r = client.post(
        "/console/sign-in",
        data={
            "role": role,
            "grantee": grantee,
            "subject": subject,
            "rrc": rrc,
            "_csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r


def form_of(html: str, action: str) -> str:
    """The form posting to `action`, as the page draws it."""
    return html.split(f'action="{action}"')[1].split("</form>")[0]


def key_of(html: str, action: str) -> str:
    """The idempotency key of the form posting to `action`."""
    return form_of(html, action).split('name="idempotency_key" value="')[1].split('"')[0]


def post(client: Any, action: str, data: dict[str, Any], key: str) -> Any:
    """Send a console form as a browser does: its fields, its key and the CSRF token."""
    return client.post(
        action,
        data={**data, "idempotency_key": key, "_csrf_token": csrf_of(client)},
        follow_redirects=False,
    )


def refusal(page: Any) -> str:
    """The box above the form that says why it was not recorded."""
    return str(page.text.split('id="refusal"')[1].split("</div>")[0])


def beside(page: Any, field: str) -> str:
    """The sentence shown next to the form's field `field` ("" if none), as a reader sees it."""
    found = re.search(rf'<p id="{field}-error" class="field-problem">([^<]*)</p>', page.text)
    return html.unescape(found.group(1)) if found else ""


def select_of(page: str, field: str) -> tuple[list[str], list[str]]:
    """A form's select `field`: the values it offers, and those selected."""
    select = page.split(f'<select id="{field}"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([^"]*)"', select)
    return offered, re.findall(r'<option value="([^"]*)" selected', select)
