"""The RRC view over HTTP with PostgreSQL: an RRC sees its current residents and the shareable
record of their meetings held while they resided there, nothing of another RRC, never a
confidential note; staff may read any RRC's view; tokens are scoped by their `rrc` claim."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from domain import clock
from services.identity.tokens import issue_token, verify_token
from services.projector import live as projector
from services.projector import rebuilds
from tests.meetings_helpers import NOTE, World

SHARED = "Worked on the job application for the warehouse."
OTHER_SUMMARY = "Talked about the move to the other RRC."
LEAVER_SUMMARY = "Planned the first week after release."
PRE_RRC_SUMMARY = "Met in the institution before the transfer."


def utc(text: str) -> str:
    """An RFC 3339 instant of an answer, in UTC without its offset."""
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None).isoformat()


class Scene:
    """A grantee with RRC-1 and RRC-2. `a` resides at RRC-1 (one meeting before the move, three
    during the stay, one with a confidential note); `b` at RRC-2; `c` stayed at RRC-1 and moved
    to the community; a group of `a` and `b` met once while both resided at their RRCs."""

    def __init__(self, w: World) -> None:
        self.w = w
        w.post("/facilities", {"code": "RRC-2", "name": "Facility RRC-2", "kind": "rrc"})
        m1, m2 = w.mentor("mentor-one"), w.mentor("mentor-two")
        self.a, self.b, self.c = w.enrol(name="Ava"), w.enrol(name="Ben"), w.enrol(name="Cy")
        self.pa = w.pair(m1, [self.a], "2025-10-01T15:00:00Z")
        self.pb = w.pair(m2, [self.b], "2025-10-01T15:00:00Z")
        self.pc = w.pair(m1, [self.c], "2025-10-01T15:00:00Z")
        self.group = w.pair(m2, [self.a, self.b], "2025-10-01T15:00:00Z", kind="group")
        self.before = w.meet(self.pa, "2025-10-10T15:00:00Z", summary=PRE_RRC_SUMMARY)["id"]
        self.move(self.a, "RRC-1", "2025-11-01T12:00:00Z")
        self.move(self.b, "RRC-2", "2025-11-01T12:00:00Z")
        self.move(self.c, "RRC-1", "2025-11-01T12:00:00Z")
        self.during = [
            w.meet(
                self.pa,
                "2025-11-05T15:00:00Z",
                45,
                summary=SHARED,
                confidential_note=NOTE,
                attendance={self.a: "present"},
            )["id"],
            w.meet(self.pa, "2025-11-12T15:00:00Z", summary="Second week.")["id"],
            w.meet(self.pa, "2025-11-19T15:00:00Z", summary="Third week.")["id"],
        ]
        self.b_meeting = w.meet(self.pb, "2025-11-06T15:00:00Z", summary=OTHER_SUMMARY)["id"]
        self.c_meeting = w.meet(self.pc, "2025-11-07T15:00:00Z", summary=LEAVER_SUMMARY)["id"]
        self.group_meeting = w.meet(
            self.group,
            "2025-11-08T15:00:00Z",
            confidential_note=NOTE,
            summary="Group session on interviews.",
            attendance={self.a: "present", self.b: "absent"},
        )["id"]
        w.post(
            f"/participants/{self.c}/stage-transitions",
            {"to_stage": 3, "occurred_at": "2025-12-01T12:00:00Z"},
        )
        projector.drain(w.db, w.schema)

    def move(self, who: str, rrc: str, at: str) -> None:
        self.w.post(
            f"/participants/{who}/stage-transitions",
            {"to_stage": 2, "placement": "rrc", "facility": rrc, "occurred_at": at},
        )

    def rrc_headers(self, rrc: str = "RRC-1", grantee: str | None = None) -> dict[str, str]:
        return self.w.auth("rrc_staff", grantee or self.w.slug, sub="rrc-desk", rrc=rrc)

    def get(
        self, path: str, headers: dict[str, str] | None = None, status: int = 200, **params: Any
    ) -> Any:
        r = self.w.client.get(
            self.w.base + path, params=params, headers=headers or self.rrc_headers()
        )
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture
def scene(client: Any, auth: Any, db: Any) -> Scene:
    return Scene(World(client, auth, db))


def test_an_rrc_sees_its_current_residents_with_stage_and_mentors(scene: Scene) -> None:
    page = scene.get("/rrc/RRC-1/residents")
    assert page["rrc"] == "RRC-1" and page["next_cursor"] is None
    assert [r["participant_id"] for r in page["items"]] == [scene.a]
    resident = page["items"][0]
    assert resident["stage"] == 2 and resident["placement"] == "rrc"
    assert resident["facility"] == "RRC-1" and resident["rrc"] == "RRC-1"
    # In the grantee's zone (decision 58): compared as instants.
    assert utc(resident["arrived_at"]) == "2025-11-01T12:00:00"
    assert resident["mentor"] == "Mentor mentor-one"
    assert resident["group_mentors"] == ["Mentor mentor-two"]
    assert "first_name" not in resident and "last_name" not in resident
    assert scene.get(f"/rrc/RRC-1/residents/{scene.a}") == resident


def test_another_rrcs_residents_and_meetings_are_not_found(scene: Scene) -> None:
    for path in ("/rrc/RRC-2/residents", "/rrc/RRC-2/meetings", f"/rrc/RRC-2/residents/{scene.b}"):
        problem = scene.get(path, status=404)
        assert problem["code"] == "not_found" and "items" not in problem
    scene.get(f"/rrc/RRC-1/residents/{scene.b}", status=404)
    items = scene.get("/rrc/RRC-1/meetings", limit=500)["items"]
    assert scene.b_meeting not in {m["meeting_id"] for m in items}
    # The group meeting shows RRC-1's resident only: nothing of the member at RRC-2.
    group = next(m for m in items if m["meeting_id"] == scene.group_meeting)
    assert group["residents"] == [scene.a] and group["attendance"] == {scene.a: "present"}
    r = scene.w.client.get(
        scene.w.base + "/rrc/RRC-1/meetings", params={"limit": 500}, headers=scene.rrc_headers()
    )
    assert scene.b not in r.text


def test_meeting_records_are_those_held_during_the_stay_without_private_fields(
    scene: Scene,
) -> None:
    page = scene.get("/rrc/RRC-1/meetings")
    ids = [m["meeting_id"] for m in page["items"]]
    assert ids == [scene.during[0], scene.group_meeting, scene.during[1], scene.during[2]]
    assert scene.before not in ids  # held before the move to the RRC
    first = page["items"][0]
    assert utc(first["occurred_at"]) == "2025-11-05T15:00:00"
    assert first["duration_minutes"] == 45
    assert first["location"] == {"kind": "off_site", "facility": None}
    assert first["residents"] == [scene.a] and first["attendance"] == {scene.a: "present"}
    assert first["summary"] == SHARED and first["summary_withheld"] is False
    assert set(first) == {
        "meeting_id",
        "occurred_at",
        "duration_minutes",
        "location",
        "residents",
        "attendance",
        "summary",
        "summary_withheld",
        "part2_notice",
    }
    assert first["part2_notice"] is None
    only_a = scene.get("/rrc/RRC-1/meetings", participant_id=scene.a)["items"]
    assert [m["meeting_id"] for m in only_a] == ids


def test_confidential_notes_never_appear_in_any_rrc_response_nor_in_the_view(
    scene: Scene,
) -> None:
    staff = scene.w.headers("coordinator")
    bodies = []
    for headers in (scene.rrc_headers(), staff):
        for path in (
            "/rrc/RRC-1/residents",
            f"/rrc/RRC-1/residents/{scene.a}",
            "/rrc/RRC-1/meetings",
        ):
            r = scene.w.client.get(scene.w.base + path, headers=headers)
            assert r.status_code == 200, r.text
            bodies.append(r.content)
    assert all(NOTE.encode() not in body for body in bodies)
    assert any(SHARED.encode() in body for body in bodies)  # the search can find text
    # The note never even enters the view's tables.
    for table in ("rrc_meetings", "rrc_people", "rrc_stays", "rrc_pairings", "rrc_mentors"):
        row = scene.w.db.fetchone(
            f'SELECT count(*) FROM "{scene.w.schema}"."{table}_b1" t'
            " WHERE position(%s in t::text) > 0",
            (NOTE,),
        )
        assert row == (0,), table


def test_a_part2_summary_is_withheld_from_the_rrc(scene: Scene) -> None:
    secret = "Discussed medication-assisted treatment dosage."
    tagged = scene.w.meet(scene.pa, "2025-11-20T15:00:00Z", summary=secret, summary_part2=True)[
        "id"
    ]
    projector.drain(scene.w.db, scene.w.schema)
    r = scene.w.client.get(scene.w.base + "/rrc/RRC-1/meetings", headers=scene.rrc_headers())
    assert r.status_code == 200 and secret not in r.text
    record = next(m for m in r.json()["items"] if m["meeting_id"] == tagged)
    assert record["summary"] is None and record["summary_withheld"] is True
    assert record["duration_minutes"] == 60  # the rest of the record is shared
    row = scene.w.db.fetchone(
        f'SELECT count(*) FROM "{scene.w.schema}".rrc_meetings_b1 t WHERE position(%s in t::text) > 0',
        (secret,),
    )
    assert row == (0,)


def test_a_resident_who_moved_on_leaves_the_view_with_their_meetings(scene: Scene) -> None:
    scene.get(f"/rrc/RRC-1/residents/{scene.c}", status=404)
    assert scene.c not in {r["participant_id"] for r in scene.get("/rrc/RRC-1/residents")["items"]}
    r = scene.w.client.get(
        scene.w.base + "/rrc/RRC-1/meetings", params={"limit": 500}, headers=scene.rrc_headers()
    )
    assert r.status_code == 200 and LEAVER_SUMMARY not in r.text and scene.c not in r.text
    # Moving on from RRC-1 to RRC-2 moves the resident from one view to the other.
    scene.move(scene.a, "RRC-2", "2025-12-01T12:00:00Z")
    projector.drain(scene.w.db, scene.w.schema)
    assert scene.get("/rrc/RRC-1/residents")["items"] == []
    assert scene.get("/rrc/RRC-1/meetings")["items"] == []
    at_two = scene.get("/rrc/RRC-2/residents", scene.rrc_headers("RRC-2"))["items"]
    assert {r["participant_id"] for r in at_two} == {scene.a, scene.b}
    # RRC-2 sees b's meetings, and none of a's: they were held before a arrived there.
    meetings = scene.get("/rrc/RRC-2/meetings", scene.rrc_headers("RRC-2"))["items"]
    assert {m["meeting_id"] for m in meetings} == {scene.b_meeting, scene.group_meeting}
    group = next(m for m in meetings if m["meeting_id"] == scene.group_meeting)
    assert group["residents"] == [scene.b] and group["attendance"] == {scene.b: "absent"}


def test_meeting_records_page_and_filter_by_time(scene: Scene) -> None:
    seen, cursor = [], ""
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = scene.get("/rrc/RRC-1/meetings", **params)
        seen += [m["meeting_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [scene.during[0], scene.group_meeting, scene.during[1], scene.during[2]]
    window = scene.get(
        "/rrc/RRC-1/meetings", since="2025-11-08T15:00:00Z", until="2025-11-19T15:00:00Z"
    )
    assert [m["meeting_id"] for m in window["items"]] == [scene.group_meeting, scene.during[1]]
    for bad in ("nonsense", "1.2", "9" * 18 + ".00000000-0000-0000-0000-00000000000g"):
        assert scene.get("/rrc/RRC-1/meetings", status=400, cursor=bad)["code"] == "invalid_cursor"
    naive = scene.get("/rrc/RRC-1/meetings", status=400, since="2025-11-08T15:00:00")
    assert naive["code"] == "invalid_request"


def test_staff_may_read_any_rrc_other_roles_may_not(scene: Scene) -> None:
    for role in ("grantee_admin", "coordinator", "case_manager"):
        two = scene.get("/rrc/RRC-2/residents", scene.w.headers(role))["items"]
        assert [r["participant_id"] for r in two] == [scene.b]
    for role in ("peer_mentor", "auditor", "federal_oversight"):
        assert scene.get("/rrc/RRC-1/residents", scene.w.headers(role), 403)["code"] == "forbidden"
    staff = scene.w.headers("coordinator")
    assert scene.get("/rrc/RRC-9/residents", staff, 404)["code"] == "not_found"
    assert scene.get("/rrc/FCI-A/meetings", staff, 404)["code"] == "not_found"


def test_rrc_tokens_need_their_claim_and_their_grantee(scene: Scene, make_grantee: Any) -> None:
    w = scene.w
    no_claim = w.auth("rrc_staff", w.slug)
    for path in ("/rrc/RRC-1/residents", "/rrc/RRC-1/meetings", f"/rrc/RRC-1/residents/{scene.a}"):
        problem = scene.get(path, no_claim, 403)
        assert problem["code"] == "forbidden" and "items" not in problem
    # A token of another grantee, even for an RRC of the same code: that grantee is not found.
    other = make_grantee()
    problem = scene.get("/rrc/RRC-1/residents", scene.rrc_headers("RRC-1", grantee=other), 404)
    assert problem["code"] == "grantee_not_found"
    # An RRC staff token may read only its RRC's view: everything else is forbidden.
    assert scene.get("/participants", scene.rrc_headers(), 403)["code"] == "forbidden"
    assert scene.get(f"/meetings/{scene.during[0]}", scene.rrc_headers(), 403)["code"] == (
        "forbidden"
    )


def test_rrc_claim_is_issued_for_rrc_staff_only_and_read_back(settings: Any) -> None:
    token = issue_token(
        settings, subject="desk", roles=["rrc_staff"], grantees=["north"], rrc="RRC-1"
    )
    assert jwt.decode(token, options={"verify_signature": False})["rrc"] == "RRC-1"
    assert verify_token(settings, token).rrc == "RRC-1"
    plain = issue_token(settings, subject="c", roles=["coordinator"], grantees=["north"])
    assert "rrc" not in jwt.decode(plain, options={"verify_signature": False})
    assert verify_token(settings, plain).rrc is None
    for kwargs in (
        {"roles": ["coordinator"], "grantees": ["north"], "rrc": "RRC-1"},
        {"roles": ["rrc_staff"], "grantees": ["*"], "rrc": "RRC-1"},
        {"roles": ["rrc_staff"], "grantees": ["a", "b"], "rrc": "RRC-1"},
        {"roles": ["rrc_staff"], "grantees": ["north"], "rrc": "rrc one"},
    ):
        with pytest.raises(ValueError):
            issue_token(settings, subject="x", **kwargs)
    # A malformed claim counts as none.
    forged = jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": "desk",
            "exp": 4_000_000_000,
            "roles": ["rrc_staff"],
            "grantees": ["north"],
            "rrc": ["RRC-1"],
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    assert verify_token(settings, forged).rrc is None


def test_the_rrc_view_equals_a_rebuild(scene: Scene) -> None:
    w = scene.w
    before = projector.digests(w.db, w.schema)["rrc"]
    build = rebuilds.rebuild(w.db, w.schema, "rrc")
    assert build == 2
    assert projector.digests(w.db, w.schema)["rrc"] == before
    assert [r["participant_id"] for r in scene.get("/rrc/RRC-1/residents")["items"]] == [scene.a]


def test_prowd_token_scopes_an_rrc_staff_token_to_its_rrc(
    settings: Any, capsys: pytest.CaptureFixture[str], make_grantee: Any
) -> None:
    from services.cli.main import parser
    from services.cli.tokens import cmd_token

    north = make_grantee()  # a token names a registered grantee
    capsys.readouterr()
    args = parser().parse_args(
        ["token", "--grantee", north, "--role", "rrc_staff", "--rrc", "RRC-1"]
    )
    assert cmd_token(args, settings) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    principal = verify_token(settings, token)
    assert principal.rrc == "RRC-1" and principal.grantees == frozenset({north})
    args = parser().parse_args(
        ["token", "--grantee", north, "--role", "coordinator", "--rrc", "RRC-1"]
    )
    assert cmd_token(args, settings) == 2
    assert "rrc_staff tokens only" in capsys.readouterr().err


def test_a_part2_summary_is_shared_under_consent_with_the_notice_and_logged(
    scene: Scene,
) -> None:
    from datetime import timedelta

    from services.audit.disclosure import PART2_NOTICE

    secret = "Discussed medication-assisted treatment dosage."
    tagged = scene.w.meet(scene.pa, "2025-11-20T15:00:00Z", summary=secret, summary_part2=True)[
        "id"
    ]
    projector.drain(scene.w.db, scene.w.schema)
    consent = scene.w.post(
        f"/participants/{scene.a}/consents",
        {
            "discloser": "The grantee's mentoring program",
            "information": ["meeting_summaries", "attendance"],
            "recipient": "rrc:RRC-1",
            "purpose": "coordinate reentry support with the RRC",
            "signed_on": (clock.today() - timedelta(days=5)).isoformat(),
            "signed_by": "participant",
            "expires_on": (clock.today() + timedelta(days=30)).isoformat(),
        },
    )
    # Staff previewing the view: shared as the RRC would see it, but nothing is disclosed.
    staff = scene.w.auth("coordinator", scene.w.slug)
    scene.get("/rrc/RRC-1/meetings", headers=staff)
    assert scene.get(f"/participants/{scene.a}/disclosures", headers=staff)["items"] == []

    page = scene.get("/rrc/RRC-1/meetings")
    record = next(m for m in page["items"] if m["meeting_id"] == tagged)
    assert record["summary"] == secret and record["summary_withheld"] is False
    assert record["part2_notice"] == PART2_NOTICE
    # Untagged records carry no notice.
    assert all(m["part2_notice"] is None for m in page["items"] if m["meeting_id"] != tagged)

    rows = scene.get(f"/participants/{scene.a}/disclosures", headers=staff)["items"]
    kinds = {(d["channel"], d["information"], d["part2"], d["consent_id"]) for d in rows}
    assert ("rrc_view", "meeting_summaries", True, consent["id"]) in kinds
    assert ("rrc_view", "attendance", False, None) in kinds
    assert {d["recipient"] for d in rows} == {"rrc:RRC-1"}
    assert {d["actor"] for d in rows} == {"rrc-desk"}

    # Reading the residents list discloses their stage.
    scene.get("/rrc/RRC-1/residents")
    rows = scene.get(f"/participants/{scene.a}/disclosures", headers=staff)["items"]
    assert any(d["information"] == "stage" for d in rows)
