"""Helpers for the mentoring tests: a small client of one grantee's API that builds mentors,
participants and pairings, and checks that a refusal is a 422 problem that appended nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from services.store.database import Database
from tests.people import birth_date

MODULES = [
    "communication_skills",
    "crisis_management",
    "cultural_sensitivity",
    "mentoring_techniques",
    "boundaries_and_confidentiality",
    "conflict_resolution",
]
STEPS = ["application", "interview", "references"]
OFF_SITE = {"kind": "off_site"}
REMOTE = {"kind": "remote"}


def inside(facility: str, kind: str = "bop_institution") -> dict[str, str]:
    return {"kind": kind, "facility": facility}


class Api:
    """One grantee's API, spoken as staff (a coordinator) unless told otherwise."""

    def __init__(
        self,
        client: TestClient[Litestar],
        auth: Callable[..., dict[str, str]],
        slug: str,
        db: Database,
    ) -> None:
        self.client = client
        self.auth = auth
        self.slug = slug
        self.db = db
        self.base = f"/v1/grantees/{slug}"

    # -- transport -------------------------------------------------------------------------
    def headers(self, role: str = "coordinator", sub: str | None = None) -> dict[str, str]:
        return self.auth(role, self.slug, sub=sub)

    def events(self) -> int:
        """Rows in the grantee's own log, `g_<slug>.events`."""
        row = self.db.fetchone(f'SELECT count(*) FROM "g_{self.slug}".events')
        return int(row[0]) if row else 0

    def post(
        self, path: str, body: dict[str, Any], *, role: str = "coordinator", status: int = 201
    ) -> Any:
        r = self.client.post(self.base + path, json=body, headers=self.headers(role))
        assert r.status_code == status, r.text
        return r.json()

    def get(
        self,
        path: str,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        **params: Any,
    ) -> Any:
        """GET `path` (query parameters as keywords); it must answer 200."""
        r = self.client.get(self.base + path, params=params, headers=self.headers(role, sub))
        assert r.status_code == 200, r.text
        return r.json()

    def view(
        self,
        path: str,
        position: int,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        **params: Any,
    ) -> Any:
        """Read a list view once it has applied `position` (the projector is drained first)."""
        projector.drain(self.db, f"g_{self.slug}")
        return self.get(path, role=role, sub=sub, min_position=position, **params)

    def refused(
        self, path: str, body: dict[str, Any], code: str, *, role: str = "coordinator"
    ) -> dict[str, Any]:
        """POST `body`; it must be refused as a 422 problem naming `code`, appending nothing."""
        before = self.events()
        r = self.client.post(self.base + path, json=body, headers=self.headers(role))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem: dict[str, Any] = r.json()
        assert problem["code"] == code, problem
        assert problem["status"] == 422
        assert problem["type"] == f"urn:prowd:problem:{code}"
        assert problem["detail"]
        assert self.events() == before, "a refused command appended events"
        return problem

    # -- facilities, cohorts, participants ---------------------------------------------------
    def facility(self, code: str, kind: str = "rrc") -> None:
        self.post("/facilities", {"code": code, "name": f"Facility {code}", "kind": kind})

    def cohort(self, code: str, start: str, facility: str = "FCI-A") -> None:
        self.post("/cohorts", {"code": code, "facility": facility, "start_date": start})

    def graduate(self, code: str, on: str) -> None:
        self.post(f"/cohorts/{code}/graduation", {"graduated_on": on}, status=200)

    def enrol(
        self,
        cohort: str = "C1",
        entry: str = "2026-02-01",
        *,
        first_name: str = "Ann",
        last_name: str = "Lee",
        facility: str = "FCI-A",
    ) -> str:
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": birth_date(),
            "program_entry_date": entry,
            "facility": facility,
            "cohort": cohort,
        }
        return str(self.post("/participants", body)["id"])

    def move(
        self,
        participant_id: str,
        to_stage: int,
        *,
        placement: str | None = None,
        facility: str | None = None,
        at: str = "2026-08-03T09:00:00Z",
    ) -> Any:
        body: dict[str, Any] = {"to_stage": to_stage, "occurred_at": at}
        if placement is not None:
            body["placement"] = placement
        if facility is not None:
            body["facility"] = facility
        return self.post(f"/participants/{participant_id}/stage-transitions", body)

    # -- mentors ---------------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        participant_id: str | None = None,
        subject: str | None = None,
        source: str | None = None,
    ) -> Any:
        body: dict[str, Any] = {
            "display_name": name,
            "source": source or ("graduate" if participant_id else "community_peer"),
            "channel": "cohort_graduation" if participant_id else "community_organization",
            "expected_hours_per_month": 6,
        }
        if participant_id is not None:
            body["participant_id"] = participant_id
        if subject is not None:
            body["subject"] = subject
        return self.post("/mentors", body)

    def screen(self, mentor_id: str, decision: str = "approved", conditions: str = "") -> Any:
        for step in STEPS:
            self.post(
                f"/mentors/{mentor_id}/screening-steps",
                {"step": step, "completed_on": "2026-06-02", "staff": "Dana Cole"},
            )
        return self.post(
            f"/mentors/{mentor_id}/background-review",
            {
                "decision": decision,
                "reviewer": "Rita Ortiz",
                "reviewed_on": "2026-06-03",
                "conditions": conditions,
            },
        )

    def train(self, mentor_id: str, modules: list[str] = MODULES, hours: float = 1.5) -> Any:
        out = None
        for module in modules:
            out = self.post(
                f"/mentors/{mentor_id}/trainings",
                {
                    "module": module,
                    "completed_on": "2026-06-10",
                    "hours": hours,
                    "trainer": "Lou Brandt",
                },
            )
        return out

    def clear(
        self,
        mentor_id: str,
        facility: str,
        trained_on: str = "2026-06-15",
        expires_on: str = "2027-06-15",
    ) -> Any:
        return self.post(
            f"/mentors/{mentor_id}/clearances",
            {"facility": facility, "trained_on": trained_on, "expires_on": expires_on},
        )

    def certify(self, mentor_id: str) -> Any:
        return self.post(f"/mentors/{mentor_id}/certification", {})

    def certified(
        self,
        name: str,
        *,
        participant_id: str | None = None,
        subject: str | None = None,
        clearances: tuple[str, ...] = ("FCI-A",),
    ) -> str:
        """A mentor who passed screening and all six modules, certified; returns the id."""
        mentor_id = str(self.register(name, participant_id=participant_id, subject=subject)["id"])
        self.screen(mentor_id)
        self.train(mentor_id)
        for facility in clearances:
            self.clear(mentor_id, facility)
        assert self.certify(mentor_id)["status"] == "certified"
        return mentor_id

    # -- pairings --------------------------------------------------------------------------
    @staticmethod
    def pairing_body(
        mentor_id: str,
        members: list[str],
        *,
        kind: str = "individual",
        location: dict[str, str] | None = None,
        focus: str | None = "",
        **extra: Any,
    ) -> dict[str, Any]:
        """A match body; a group gets the focus `employment` unless `focus` says otherwise
        (None: no focus at all)."""
        body: dict[str, Any] = {
            "kind": kind,
            "mentor_id": mentor_id,
            "members": members,
            "location": location or OFF_SITE,
            "criteria": ["shared_experience"],
            "commitment": {"frequency": "weekly", "minutes_per_meeting": 60, "months": 6},
            **extra,
        }
        if focus == "" and kind == "group":
            focus = "employment"
        if focus:
            body["focus"] = focus
        return body

    def pair(self, mentor_id: str, members: list[str], **kw: Any) -> Any:
        return self.post("/pairings", self.pairing_body(mentor_id, members, **kw))

    def refuse_pair(self, mentor_id: str, members: list[str], code: str, **kw: Any) -> Any:
        return self.refused("/pairings", self.pairing_body(mentor_id, members, **kw), code)

    def close(self, pairing_id: str, **overrides: Any) -> Any:
        body = {
            "closure_type": "planned",
            "reason": "commitment completed",
            "initiator": "program",
            "rematch_eligible": True,
            **overrides,
        }
        return self.post(f"/pairings/{pairing_id}/closure", body)

    def policy(self, **rules: Any) -> Any:
        return self.post("/policy", rules, role="grantee_admin")


def graduates_and_newcomers(
    api: Api, graduates: int, newcomers: int
) -> tuple[list[str], list[str]]:
    """`graduates` participants of cohort C1 (graduated 2026-06-01) and `newcomers` of a later
    cohort C2 (FCI-A, from 2026-07-06), all in stage 1."""
    grads = [api.enrol("C1", first_name=f"Grad{i}") for i in range(graduates)]
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    news = [api.enrol("C2", "2026-07-06", first_name=f"New{i}") for i in range(newcomers)]
    return grads, news
