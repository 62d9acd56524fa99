"""What a peer mentor sees of their own mentee (minimum necessary, docs/security.md): the name,
stage, pairing and goals they mentor on, not the date of birth or the BOP register number,
neither in the participant view nor in the history; staff still see both."""

from __future__ import annotations

from tests.meetings_helpers import World

DOB, REGISTER = "1984-07-19", "47213-051"


def test_a_peer_mentor_sees_their_mentee_without_birth_date_or_register_number(client, auth, db):
    w = World(client, auth, db)
    mentee = w.post(
        "/participants",
        {
            "first_name": "Noor",
            "last_name": "Haddad",
            "date_of_birth": DOB,
            "bop_register_number": REGISTER,
            "program_entry_date": "2025-09-15",
            "facility": "FCI-A",
            "cohort": "C1",
        },
    )["id"]
    mentor = w.mentor("pm-noor")
    w.pair(mentor, [mentee], "2025-10-01T15:00:00Z")
    base = f"/v1/grantees/{w.slug}/participants/{mentee}"
    mine = auth("peer_mentor", w.slug, sub="pm-noor")
    view = client.get(base, headers=mine)
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["first_name"], body["stage"]) == ("Noor", 1)
    assert (body["date_of_birth"], body["bop_register_number"]) == (None, None)
    assert "erased_at" not in body  # withheld, not erased
    history = client.get(f"{base}/history", headers=mine)
    assert history.status_code == 200, history.text
    assert DOB not in history.text and REGISTER not in history.text
    assert "Noor" in history.text  # the history itself is there
    # Staff see both.
    staff = auth("case_manager", w.slug)
    full = client.get(base, headers=staff).json()
    assert (full["date_of_birth"], full["bop_register_number"]) == (DOB, REGISTER)
    assert DOB in client.get(f"{base}/history", headers=staff).text
