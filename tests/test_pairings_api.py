"""Pairings over HTTP with the real app and PostgreSQL: who may mentor whom at each stage (and
the policy that changes it), clearances, caseload and group sizes, membership, closure and
rematch, flags after a stage transition, tenancy, peer-mentor scoping and the read models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.registry import PROJECTIONS
from services.projector import live as projector
from services.projector import rebuilds
from tests.mentoring_helpers import OFF_SITE, REMOTE, Api, graduates_and_newcomers, inside


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


# -- who may mentor whom ----------------------------------------------------------------------


def test_stage_one_mentors_come_from_an_earlier_graduated_cohort(api):
    same_cohort_mentee = api.enrol("C1", first_name="Mia")
    c1_grad = api.enrol("C1", first_name="Gus")
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    c2_grad = api.enrol("C2", "2026-07-06", first_name="Hal")
    api.graduate("C2", "2026-10-02")
    api.cohort("C3", "2026-10-05")
    c3_mentee = api.enrol("C3", "2026-10-05", first_name="Ivy")
    old, young = (
        api.certified("Gus G.", participant_id=c1_grad),
        api.certified("Hal H.", participant_id=c2_grad),
    )

    problem = api.refuse_pair(old, [same_cohort_mentee], "mentor_not_eligible_for_stage")
    assert "must be an earlier graduate (from an earlier cohort)" in problem["detail"]
    api.refuse_pair(young, [same_cohort_mentee], "mentor_not_eligible_for_stage")  # later cohort
    assert api.pair(young, [c3_mentee])["members"] == [c3_mentee]
    assert api.pair(old, [c2_grad])["members"] == [c2_grad]  # a graduate may still be mentored


def test_stage_two_mentors_live_in_the_rrc_or_are_in_stage_three(api):
    api.facility("RRC-2")
    grads, news = graduates_and_newcomers(api, 3, 3)
    resident, elsewhere, released = grads
    api.move(resident, 2, placement="rrc", facility="RRC-1")
    api.move(elsewhere, 2, placement="rrc", facility="RRC-2")
    api.move(released, 3)
    for mentee in news:
        assert api.move(mentee, 2, placement="rrc", facility="RRC-1")["stage"] == 2
    m_resident = api.certified("Rae R.", participant_id=resident, clearances=("RRC-1",))
    m_elsewhere = api.certified("Eli E.", participant_id=elsewhere, clearances=("RRC-1",))
    m_released = api.certified("Ola O.", participant_id=released, clearances=())

    p = api.pair(m_resident, [news[0]], location=inside("RRC-1", "rrc"))
    assert p["location"] == {"kind": "rrc", "facility": "RRC-1"}
    problem = api.refuse_pair(m_elsewhere, [news[1]], "mentor_not_eligible_for_stage")
    assert (
        "a graduate living in the mentee's RRC or a stage 3 participant in good standing"
        in problem["detail"]
    )
    api.pair(m_released, [news[1]])


def test_stage_three_mentors_are_stage_three_participants_or_graduates(api):
    (grad,), (mentee, second) = graduates_and_newcomers(api, 1, 2)
    api.move(mentee, 3)
    api.move(second, 3)
    graduate = api.certified("Gus G.", participant_id=grad)
    peer = api.certified("Pat P.")
    api.refuse_pair(peer, [mentee], "mentor_not_eligible_for_stage")
    api.pair(graduate, [mentee])


def test_the_policy_changes_who_may_mentor_and_the_limits(api):
    (grad,), news = graduates_and_newcomers(api, 1, 3)
    peer = api.certified("Pat P.")
    graduate = api.certified("Gus G.", participant_id=grad)
    api.refuse_pair(peer, [news[0]], "mentor_not_eligible_for_stage")
    assert api.get("/policy")["rules"]["stage1"] == ["earlier_graduate"]

    before = api.events()
    r = api.client.post(
        f"{api.base}/policy", json={"max_individual_mentees": 1}, headers=api.headers("coordinator")
    )
    assert r.status_code == 403 and api.events() == before
    # Ranges the schema declares are refused by request validation (400); what spans fields
    # is the domain's (`invalid_policy`).
    api.post("/policy", {"group_min": 1}, role="grantee_admin", status=400)
    api.post("/policy", {"stage1": []}, role="grantee_admin", status=400)
    api.refused("/policy", {"group_min": 9, "group_max": 4}, "invalid_policy", role="grantee_admin")

    changed = api.policy(stage1=["earlier_graduate", "community_peer"], max_individual_mentees=1)
    assert changed["rules"]["stage1"] == ["earlier_graduate", "community_peer"]
    assert api.get("/policy", role="peer_mentor")["rules"]["max_individual_mentees"] == 1
    api.pair(peer, [news[0]])
    problem = api.refuse_pair(peer, [news[1]], "caseload_limit")
    assert "limit 1" in problem["detail"]
    api.pair(graduate, [news[1]])

    api.policy(stage3=["stage3_participant"])  # the graduate in prison no longer qualifies
    api.move(news[2], 3)
    api.refuse_pair(graduate, [news[2]], "mentor_not_eligible_for_stage")
    api.refuse_pair(peer, [news[2]], "mentor_not_eligible_for_stage")


def test_a_person_never_mentors_themselves(api):
    (grad, other), _ = graduates_and_newcomers(api, 2, 0)
    mid = api.certified("Gus G.", participant_id=grad)
    api.policy(stage1=["graduate"])
    api.refuse_pair(mid, [grad], "self_mentoring")
    api.refuse_pair(mid, [other, grad], "self_mentoring", kind="group")
    api.pair(mid, [other])


# -- where they meet --------------------------------------------------------------------------


def test_meeting_inside_a_facility_needs_an_unexpired_clearance_for_it(api):
    (grad,), news = graduates_and_newcomers(api, 1, 5)
    mid = api.certified("Gus G.", participant_id=grad, clearances=())
    api.clear(mid, "FCI-A", "2025-08-01", "2026-08-01")  # expired
    api.clear(mid, "FCI-B", "2026-06-15", "2027-06-15")

    problem = api.refuse_pair(mid, [news[0]], "clearance_required", location=inside("FCI-A"))
    assert "FCI-A" in problem["detail"]
    api.refuse_pair(mid, [news[0]], "clearance_required", location=inside("RRC-1", "rrc"))
    api.refuse_pair(mid, [news[0]], "facility_required", location={"kind": "bop_institution"})
    api.refuse_pair(
        mid, [news[0]], "facility_not_allowed", location={"kind": "off_site", "facility": "FCI-B"}
    )
    # a pairing opened back when the clearance was valid
    api.pair(mid, [news[0]], location=inside("FCI-A"), opened_at="2026-07-20T10:00:00Z")
    api.pair(mid, [news[1]], location=inside("FCI-B"))
    assert api.pair(mid, [news[2]], location=OFF_SITE)["location"] == {**OFF_SITE, "facility": None}
    assert api.pair(mid, [news[3]], location=REMOTE)["location"] == {**REMOTE, "facility": None}
    api.clear(mid, "FCI-A", "2026-11-01", "2027-11-01")  # renewed
    api.pair(mid, [news[4]], location=inside("FCI-A"))


# -- caseload and groups ----------------------------------------------------------------------


def test_caseload_limit_and_group_sizes(api):
    (grad,), news = graduates_and_newcomers(api, 1, 12)
    mid = api.certified("Gus G.", participant_id=grad)
    for mentee in news[:5]:
        api.pair(mid, [mentee])
    problem = api.refuse_pair(mid, [news[5]], "caseload_limit")
    assert "5 individual mentees (limit 5)" in problem["detail"]
    assert api.get(f"/mentors/{mid}")["individual_mentees"] == 5

    api.refuse_pair(mid, [news[5]], "group_size", kind="group")
    api.refuse_pair(mid, news[1:10], "group_size", kind="group")
    api.refuse_pair(
        mid, news[5:7], "focus_required", kind="group", focus=None, criteria_note="no focus"
    )
    eight = api.pair(mid, news[1:9], kind="group", focus="employment")
    assert len(eight["members"]) == 8
    api.refused(f"/pairings/{eight['id']}/members", {"participant_id": news[9]}, "group_size")
    api.refused(f"/pairings/{eight['id']}/members", {"participant_id": news[1]}, "duplicate_member")

    pair_of_two = api.pair(mid, news[10:12], kind="group", focus="housing")["id"]
    api.refused(
        f"/pairings/{pair_of_two}/member-removals",
        {"participant_id": news[10], "reason": "moved"},
        "group_size",
    )
    api.refused(
        f"/pairings/{pair_of_two}/member-removals",
        {"participant_id": news[0], "reason": "moved"},
        "not_a_member",
    )
    single = api.get(f"/mentors/{mid}")["open_pairings"]
    individual = next(p for p in single if api.get(f"/pairings/{p}")["kind"] == "individual")
    api.refused(f"/pairings/{individual}/members", {"participant_id": news[11]}, "not_a_group")
    mentor = api.get(f"/mentors/{mid}")
    assert (mentor["individual_mentees"], len(mentor["open_pairings"])) == (5, 7)


def test_one_open_individual_pairing_per_participant_and_rematch_after_closure(api):
    (g1, g2), (mentee,) = graduates_and_newcomers(api, 2, 1)
    first, second = (
        api.certified("Gus G.", participant_id=g1),
        api.certified("Hal H.", participant_id=g2),
    )
    pairing = api.pair(first, [mentee])["id"]
    problem = api.refuse_pair(second, [mentee], "mentee_already_paired")
    assert "already has an open individual pairing" in problem["detail"]
    api.refuse_pair(first, [mentee], "mentee_already_paired")

    closure = {
        "closure_type": "unplanned",
        "reason": "mentor and mentee did not connect",
        "initiator": "mentee",
        "rematch_eligible": True,
        "exit_interview_on": "2026-11-20",
        "post_closure_contact": "no contact for 90 days",
    }
    closed = api.post(f"/pairings/{pairing}/closure", closure)
    assert closed["status"] == "closed"
    got = api.get(f"/pairings/{pairing}")["closure"]
    assert (
        got["closure_type"],
        got["reason"],
        got["initiator"],
        got["exit_interview_on"],
        got["rematch_eligible"],
        got["post_closure_contact"],
    ) == (
        "unplanned",
        "mentor and mentee did not connect",
        "mentee",
        "2026-11-20",
        True,
        "no contact for 90 days",
    )
    api.refused(f"/pairings/{pairing}/closure", closure, "pairing_closed")
    api.refused(
        f"/pairings/{pairing}/flag-resolutions",
        {"flag": "mentor_retired", "resolution": "y"},
        "pairing_closed",
    )
    assert api.get(f"/mentors/{first}")["open_pairings"] == []

    rematch = api.pair(second, [mentee])
    assert (rematch["status"], rematch["mentor_id"]) == ("open", second)
    view = api.view("/pairings", rematch["position"], participant_id=mentee)
    rows = {row["id"]: row for row in view["items"]}
    assert rows[pairing]["status"] == "closed" and rows[pairing]["closure_type"] == "unplanned"
    assert rows[pairing]["closed_at"] is not None
    assert rows[rematch["id"]]["status"] == "open" and rows[rematch["id"]]["closed_at"] is None
    opened = api.view("/pairings", rematch["position"], participant_id=mentee, status="open")
    assert [row["id"] for row in opened["items"]] == [rematch["id"]]


def test_group_membership_changes_show_in_the_pairing_and_the_view(api):
    (grad,), news = graduates_and_newcomers(api, 1, 4)
    mid = api.certified("Gus G.", participant_id=grad)
    group = api.pair(mid, news[:2], kind="group", focus="recovery")
    gid = group["id"]

    added = api.post(f"/pairings/{gid}/members", {"participant_id": news[2]})
    assert added["members"] == [*news[:2], news[2]]
    rows = api.view("/pairings", added["position"], participant_id=news[2])["items"]
    assert [(r["id"], r["member_count"], r["kind"], r["focus"]) for r in rows] == [
        (gid, 3, "group", "recovery")
    ]

    removed = api.post(
        f"/pairings/{gid}/member-removals",
        {"participant_id": news[0], "reason": "transferred to FCI-B"},
    )
    assert removed["members"] == [news[1], news[2]]
    assert api.get(f"/pairings/{gid}")["members"] == [news[1], news[2]]
    assert api.view("/pairings", removed["position"], participant_id=news[0])["items"] == []
    rows = api.view("/pairings", removed["position"], participant_id=news[1])["items"]
    assert [(r["id"], r["member_count"]) for r in rows] == [(gid, 2)]
    readded = api.post(f"/pairings/{gid}/members", {"participant_id": news[0]})
    rows = api.view("/pairings", readded["position"], participant_id=news[0])["items"]
    assert [(r["id"], r["member_count"]) for r in rows] == [(gid, 3)]

    closed = api.close(
        gid,
        closure_type="planned",
        initiator="program",
        rematch_eligible=False,
        exit_interview_on="2026-11-25",
    )
    assert closed["closure"]["rematch_eligible"] is False
    for member in news[:3]:
        rows = api.view("/pairings", closed["position"], participant_id=member)["items"]
        assert [(r["id"], r["status"], r["closure_type"]) for r in rows] == [
            (gid, "closed", "planned")
        ]
    api.refused(f"/pairings/{gid}/members", {"participant_id": news[3]}, "pairing_closed")


# -- stage transitions flag, never close ------------------------------------------------------


def test_a_move_that_makes_the_pairing_ineligible_flags_it(api, frozen_at):
    # Three weeks after the move dated 3 August: on a later day, the move (the end of the
    # mentee's classes) would be more than 90 days before the pairing opened, a derived exit
    # the pairing list then shows for review (decision 104).
    frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
    (grad,), (mentee, other) = graduates_and_newcomers(api, 1, 2)
    mid = api.certified("Gus G.", participant_id=grad)
    pairing = api.pair(mid, [mentee])["id"]
    steady = api.pair(mid, [other])["id"]

    moved = api.move(mentee, 2, placement="rrc", facility="RRC-1")
    assert moved["stage"] == 2
    p = api.get(f"/pairings/{pairing}")
    assert p["status"] == "open"
    assert set(p["open_flags"]) == {"mentee_ineligible"}
    assert "stage 2" in p["open_flags"]["mentee_ineligible"]
    assert api.get(f"/pairings/{steady}")["open_flags"] == {}
    flagged = api.view("/pairings", moved["position"], flagged=True)["items"]
    assert [(r["id"], r["status"]) for r in flagged] == [(pairing, "open")]

    api.refused(
        f"/pairings/{pairing}/flag-resolutions",
        {"flag": "mentor_retired", "resolution": "n/a"},
        "no_such_flag",
    )
    resolved = api.post(
        f"/pairings/{pairing}/flag-resolutions",
        {"flag": "mentee_ineligible", "resolution": "meets off site until rematch"},
    )
    assert resolved["open_flags"] == {} and resolved["status"] == "open"
    assert api.view("/pairings", resolved["position"], flagged=True)["items"] == []
    api.refused(
        f"/pairings/{pairing}/flag-resolutions",
        {"flag": "mentee_ineligible", "resolution": "again"},
        "no_such_flag",
    )


def test_a_move_of_the_mentor_flags_pairings_they_no_longer_qualify_for(api):
    (grad,), (mentee,) = graduates_and_newcomers(api, 1, 1)
    api.move(grad, 2, placement="rrc", facility="RRC-1")
    api.move(mentee, 2, placement="rrc", facility="RRC-1")
    mid = api.certified("Rae R.", participant_id=grad, clearances=("RRC-1",))
    pairing = api.pair(mid, [mentee], location=inside("RRC-1", "rrc"))["id"]
    api.post(
        f"/participants/{grad}/stage-transitions",
        {
            "to_stage": 1,
            "returned_to_custody": True,
            "facility": "FCI-B",
            "occurred_at": "2026-09-01T08:00:00Z",
        },
    )
    p = api.get(f"/pairings/{pairing}")
    assert p["status"] == "open"
    assert set(p["open_flags"]) == {"mentor_ineligible"}
    assert "stage 2" in p["open_flags"]["mentor_ineligible"]


# -- tenancy and peer mentors -----------------------------------------------------------------


def test_another_grantees_pairing_is_not_found(api, make_grantee, client, auth, db):
    other = Api(client, auth, make_grantee(), db)
    (grad,), (mentee,) = graduates_and_newcomers(other, 1, 1)
    mid = other.certified("Zebulon Quartermaine", participant_id=grad)
    secret = other.pair(mid, [mentee], criteria_note="Zanzibar")["id"]
    before = other.events()
    for path in (f"/pairings/{secret}",):
        r = client.get(api.base + path, headers=api.headers())
        assert r.status_code == 404 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert "Zebulon" not in r.text and mid not in r.text and mentee not in r.text
    for path, body in (
        (
            "closure",
            {
                "closure_type": "planned",
                "reason": "x",
                "initiator": "program",
                "rematch_eligible": True,
            },
        ),
        ("flag-resolutions", {"flag": "mentor_retired", "resolution": "y"}),
        ("members", {"participant_id": mentee}),
    ):
        r = client.post(f"{api.base}/pairings/{secret}/{path}", json=body, headers=api.headers())
        assert r.status_code == 404 and "Zebulon" not in r.text
    r = client.post(
        f"{api.base}/pairings", headers=api.headers(), json=Api.pairing_body(mid, [mentee])
    )
    assert r.status_code == 404 and "Zebulon" not in r.text
    r = client.get(f"{other.base}/pairings/{secret}", headers=api.headers())
    assert r.status_code == 404 and r.json()["code"] == "grantee_not_found"
    assert other.events() == before
    listed = api.view("/pairings", 0, participant_id=mentee)
    assert listed["items"] == []


def test_peer_mentors_see_only_their_own_mentees_and_pairings(api):
    (g1, g2), news = graduates_and_newcomers(api, 2, 5)
    mine = api.certified("Gus G.", participant_id=g1, subject="peer-gus")
    theirs = api.certified("Hal H.", participant_id=g2, subject="peer-hal")
    individual = api.pair(mine, [news[0]])["id"]
    group = api.pair(mine, news[1:3], kind="group")["id"]
    other = api.pair(theirs, [news[3]])
    last = other["position"]

    page = api.view("/participants", last, role="peer_mentor", sub="peer-gus")
    rows = {row["id"]: row for row in page["items"]}
    assert set(rows) == set(news[:3])
    assert rows[news[0]]["mentor_id"] == mine and rows[news[0]]["mentor_name"] == "Gus G."
    hal = api.view("/participants", last, role="peer_mentor", sub="peer-hal")["items"]
    assert [row["id"] for row in hal] == [news[3]]
    assert api.view("/participants", last, role="peer_mentor", sub="nobody")["items"] == []

    for pid in news[:3]:
        assert api.get(f"/participants/{pid}", role="peer_mentor", sub="peer-gus")["id"] == pid
    for pid in (news[3], news[4], g2):
        r = api.client.get(
            f"{api.base}/participants/{pid}", headers=api.headers("peer_mentor", "peer-gus")
        )
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert "Grad" not in r.text and "New" not in r.text
    r = api.client.get(
        f"{api.base}/participants/{news[3]}/history", headers=api.headers("peer_mentor", "peer-gus")
    )
    assert r.status_code == 404

    pairings = api.view("/pairings", last, role="peer_mentor", sub="peer-gus")["items"]
    assert sorted(row["id"] for row in pairings) == sorted([individual, group])
    assert api.get(f"/pairings/{group}", role="peer_mentor", sub="peer-gus")["id"] == group
    r = api.client.get(
        f"{api.base}/pairings/{other['id']}", headers=api.headers("peer_mentor", "peer-gus")
    )
    assert r.status_code == 404
    r = api.client.get(f"{api.base}/mentors", headers=api.headers("peer_mentor", "peer-gus"))
    assert r.status_code == 403

    closed = api.close(individual)
    page = api.view("/participants", closed["position"], role="peer_mentor", sub="peer-gus")
    assert {row["id"] for row in page["items"]} == set(news[1:3])
    r = api.client.get(
        f"{api.base}/participants/{news[0]}", headers=api.headers("peer_mentor", "peer-gus")
    )
    assert r.status_code == 404


# -- read models ------------------------------------------------------------------------------


def test_the_caseload_names_the_mentor_and_the_time_to_first_pairing(api):
    (grad,), (mentee, waiting) = graduates_and_newcomers(api, 1, 2)
    mid = api.certified("Gus G.", participant_id=grad)
    p = api.pair(mid, [mentee], opened_at="2026-08-05T10:00:00Z")
    rows = {r["id"]: r for r in api.view("/participants", p["position"])["items"]}
    row = rows[mentee]
    assert (row["mentor_id"], row["mentor_name"], row["individual_pairing_id"]) == (
        mid,
        "Gus G.",
        p["id"],
    )
    # Rendered in the grantee's zone (decision 58): the same instant.
    assert datetime.fromisoformat(row["first_paired_at"]) == datetime(2026, 8, 5, 10, tzinfo=UTC)
    assert row["days_to_first_pairing"] == 30  # entered 2026-07-06
    assert (
        rows[waiting]["mentor_id"],
        rows[waiting]["first_paired_at"],
        rows[waiting]["days_to_first_pairing"],
    ) == (None, None, None)
    closed = api.close(p["id"])
    row = next(
        r for r in api.view("/participants", closed["position"])["items"] if r["id"] == mentee
    )
    assert (row["mentor_id"], row["mentor_name"]) == (None, None)
    # Rendered in the grantee's zone (decision 58): the same instant.
    assert datetime.fromisoformat(row["first_paired_at"]) == datetime(2026, 8, 5, 10, tzinfo=UTC)


def test_live_views_equal_a_rebuild_after_a_mentoring_scenario(api, db):
    schema = f"g_{api.slug}"
    (g1, g2), news = graduates_and_newcomers(api, 2, 7)
    first = api.certified("Gus G.", participant_id=g1, subject="peer-gus")
    second = api.certified("Hal H.", participant_id=g2)
    api.post(f"/mentors/{first}/coordinator", {"coordinator": "Kim Park"})
    a = api.pair(first, [news[0]])["id"]
    b = api.pair(first, [news[1]], opened_at="2026-08-01T12:00:00Z")["id"]
    group = api.pair(second, news[2:5], kind="group", focus="employment")["id"]
    api.post(f"/pairings/{group}/members", {"participant_id": news[5]})
    api.post(f"/pairings/{group}/member-removals", {"participant_id": news[2], "reason": "moved"})
    api.post(f"/pairings/{b}/first-meeting", {"met_on": "2026-08-04"})
    api.move(news[0], 2, placement="rrc", facility="RRC-1")
    api.post(f"/mentors/{second}/suspension", {"reason": "missed debriefs"})
    api.post(
        f"/pairings/{group}/flag-resolutions", {"flag": "mentor_suspended", "resolution": "kept"}
    )
    api.close(a, closure_type="unplanned", initiator="program", exit_interview_on="2026-11-20")
    api.pair(first, [news[6]])
    api.post(f"/mentors/{second}/retirement", {"reason": "moved away"})

    projector.drain(db, schema)
    live = projector.digests(db, schema)
    assert {"mentor_roster", "pairings", "caseload"} <= set(live)
    assert set(live) == {p.name for p in PROJECTIONS}
    for projection in PROJECTIONS:
        rebuilds.rebuild(db, schema, projection.name)
    assert projector.digests(db, schema) == live

    roster = {r["id"]: r for r in api.view("/mentors", 0)["items"]}
    assert (roster[first]["individual_mentees"], roster[first]["groups"]) == (2, 0)
    assert (roster[second]["status"], roster[second]["groups"], roster[second]["open_flags"]) == (
        "retired",
        1,
        1,
    )
    assert roster[first]["coordinator"] == "Kim Park"
    pairing_rows = {r["id"]: r for r in api.view("/pairings", 0)["items"]}
    assert pairing_rows[group]["member_count"] == 3
    assert pairing_rows[group]["open_flags"] == {"mentor_retired": "reassign: moved away"}
    assert pairing_rows[b]["first_meeting_on"] == "2026-08-04"
    assert pairing_rows[a]["status"] == "closed"
