"""Signing in to the staff console from a test client (the development sign-in form)."""

from __future__ import annotations

from typing import Any

CSRF = "prowd_csrf"


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
