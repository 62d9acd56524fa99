def test_enrol_and_read(client, auth, grantee):
    h = auth("coordinator", grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": "1990-04-01",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert client.get(f"/v1/grantees/{grantee}/participants/{pid}", headers=h).json()["stage"] == 1
