"""One structured log line per request (DESIGN D4): request id, grantee, subject, route, status,
duration; never a body, a token or a personal field."""

from __future__ import annotations

from structlog.testing import capture_logs


def test_each_request_is_logged_once_with_its_context_and_nothing_personal(client, auth, grantee):
    h = auth("coordinator", grantee, sub="coord-7")
    body = {
        "first_name": "Zebulon",
        "last_name": "Quillfeather",
        "date_of_birth": "1985-07-09",
        "program_entry_date": "2026-02-01",
        "facility": "FCI-A",
        "cohort": "C1",
        "bop_register_number": "98765-432",
    }
    with capture_logs() as logs:
        r = client.post(
            f"/v1/grantees/{grantee}/participants",
            json=body,
            headers={**h, "X-Request-ID": "req-abc-123"},
        )
        client.get(f"/v1/grantees/{grantee}/participants/{r.json()['id']}", headers=h)
    requests = [entry for entry in logs if entry["event"] == "request"]
    assert len(requests) == 2
    first = requests[0]
    assert first["request_id"] == "req-abc-123"
    assert r.headers["x-request-id"] == "req-abc-123"
    assert (first["grantee"], first["subject"], first["method"], first["status"]) == (
        grantee,
        "coord-7",
        "POST",
        201,
    )
    assert first["route"] == "/v1/grantees/{grantee}/participants"
    assert first["duration_ms"] >= 0
    text = repr(logs)
    for secret in (
        "Zebulon",
        "Quillfeather",
        "1985-07-09",
        "98765-432",
        h["Authorization"].split()[1],
    ):
        assert secret not in text
