"""Helpers for the meeting tests: one grantee of its own (with a chosen time zone), certified
graduate mentors, stage-1 mentees, pairings and meetings, spoken over HTTP; a refusal must be a
422 problem naming its code that appended nothing to `g_<slug>.events`."""

from __future__ import annotations

import secrets
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
OFF_SITE: dict[str, Any] = {"kind": "off_site"}
REMOTE: dict[str, Any] = {"kind": "remote"}
NOTE = "Mentioned stress about family contact; follow up privately."


def inside(facility: str, kind: str = "bop_institution") -> dict[str, Any]:
    return {"kind": kind, "facility": facility}


def rules(**overrides: Any) -> dict[str, Any]:
    """The full `MentoringRules` body (the defaults), with `overrides`."""
    return {
        "stage1": ["earlier_graduate"],
        "stage2": ["rrc_resident_graduate", "stage3_participant"],
        "stage3": ["stage3_participant", "graduate"],
        "max_individual_mentees": 5,
        "group_min": 2,
        "group_max": 8,
        "stage2_cadence": "weekly",
        "stage3_cadence": "weekly",
        "class_hours_rule": "refuse",
        **overrides,
    }


def held(
    at: str, minutes: int = 60, topics: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The `held` part of a meeting (or the body of POST .../held)."""
    return {"occurred_at": at, "duration_minutes": minutes, "topics": topics or ["goals"], **extra}


class World:
    """A grantee of its own: BOP institutions FCI-A and FCI-B, an RRC RRC-1; cohort C0 at
    FCI-A (2025-01-05, graduated 2025-06-01) for graduate mentors and C1 at FCI-A (from
    2025-09-01) for stage-1 mentees. Speaks as a coordinator unless told otherwise."""

    def __init__(
        self,
        client: TestClient[Litestar],
        auth: Callable[..., dict[str, str]],
        db: Database,
        time_zone: str = "America/Chicago",
    ) -> None:
        self.client = client
        self.auth = auth
        self.db = db
        self.time_zone = time_zone
        self.slug = f"m_{secrets.token_hex(5)}"
        self.base = f"/v1/grantees/{self.slug}"
        r = client.post(
            "/v1/grantees",
            json={
                "slug": self.slug,
                "name": "Meetings grantee",
                "grant_number": "FS-0042-26",
                "time_zone": time_zone,
            },
            headers=auth("platform_admin"),
        )
        assert r.status_code == 201, r.text
        for code, kind in (
            ("FCI-A", "bop_institution"),
            ("FCI-B", "bop_institution"),
            ("RRC-1", "rrc"),
        ):
            self.post("/facilities", {"code": code, "name": f"Facility {code}", "kind": kind})
        self.post("/cohorts", {"code": "C0", "facility": "FCI-A", "start_date": "2025-01-05"})
        self.post("/cohorts", {"code": "C1", "facility": "FCI-A", "start_date": "2025-09-01"})
        self._graduates = [self.enrol("C0", "2025-01-10", f"Grad{i}") for i in range(4)]
        self.post("/cohorts/C0/graduation", {"graduated_on": "2025-06-01"}, status=200)

    # -- transport ------------------------------------------------------------------------------
    @property
    def schema(self) -> str:
        return f"g_{self.slug}"

    def headers(self, role: str = "coordinator", sub: str | None = None) -> dict[str, str]:
        return self.auth(role, self.slug, sub=sub)

    def events(self) -> int:
        row = self.db.fetchone(f'SELECT count(*) FROM "g_{self.slug}".events')
        return int(row[0]) if row else 0

    def topics_of(self, originator: str) -> list[str]:
        """The event classes in an aggregate's history, in order."""
        rows = self.db.fetchall(
            f'SELECT topic FROM "g_{self.slug}".events WHERE originator_id = %s'
            " ORDER BY originator_version",
            (originator,),
        )
        return [str(r[0]).rsplit(".", 1)[-1].rsplit(":", 1)[-1] for r in rows]

    def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        role: str = "coordinator",
        sub: str | None = None,
        status: int = 201,
    ) -> Any:
        r = self.client.post(self.base + path, json=body, headers=self.headers(role, sub))
        assert r.status_code == status, r.text
        return r.json()

    def get(
        self,
        path: str,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        status: int = 200,
        **params: Any,
    ) -> Any:
        r = self.client.get(self.base + path, params=params, headers=self.headers(role, sub))
        assert r.status_code == status, r.text
        return r.json()

    def get_text(
        self, path: str, *, role: str = "coordinator", sub: str | None = None, **params: Any
    ) -> tuple[int, str]:
        r = self.client.get(self.base + path, params=params, headers=self.headers(role, sub))
        return r.status_code, r.text

    def view(
        self, path: str, *, role: str = "coordinator", sub: str | None = None, **params: Any
    ) -> Any:
        """Read a view after draining the projector."""
        projector.drain(self.db, self.schema)
        return self.get(path, role=role, sub=sub, **params)

    def refused(
        self,
        path: str,
        body: dict[str, Any],
        code: str,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        status: int = 422,
    ) -> dict[str, Any]:
        """POST `body`; it must be refused as a problem naming `code`, appending nothing."""
        before = self.events()
        r = self.client.post(self.base + path, json=body, headers=self.headers(role, sub))
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json"), r.headers
        problem: dict[str, Any] = r.json()
        assert problem["code"] == code, problem
        assert problem["status"] == status
        assert self.events() == before, "a refused command appended events"
        return problem

    # -- people -----------------------------------------------------------------------------------
    def enrol(self, cohort: str = "C1", entry: str = "2025-09-15", name: str = "Ann") -> str:
        body = {
            "first_name": name,
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": entry,
            "facility": "FCI-A",
            "cohort": cohort,
        }
        return str(self.post("/participants", body)["id"])

    def mentor(
        self,
        subject: str,
        clearances: tuple[tuple[str, str, str], ...] = (("FCI-A", "2025-08-01", "2027-08-01"),),
    ) -> str:
        """A certified graduate mentor (of cohort C0) whose token subject is `subject`."""
        person = self._graduates.pop()
        mentor_id = str(
            self.post(
                "/mentors",
                {
                    "display_name": f"Mentor {subject}",
                    "source": "graduate",
                    "channel": "cohort_graduation",
                    "participant_id": person,
                    "subject": subject,
                },
            )["id"]
        )
        for step in ("application", "interview", "references"):
            self.post(
                f"/mentors/{mentor_id}/screening-steps",
                {"step": step, "completed_on": "2025-07-01", "staff": "Dana Cole"},
            )
        self.post(
            f"/mentors/{mentor_id}/background-review",
            {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2025-07-01"},
        )
        for module in MODULES:
            self.post(
                f"/mentors/{mentor_id}/trainings",
                {
                    "module": module,
                    "completed_on": "2025-07-02",
                    "hours": 1,
                    "trainer": "Lou Brandt",
                },
            )
        for facility, trained_on, expires_on in clearances:
            self.post(
                f"/mentors/{mentor_id}/clearances",
                {"facility": facility, "trained_on": trained_on, "expires_on": expires_on},
            )
        assert self.post(f"/mentors/{mentor_id}/certification", {})["status"] == "certified"
        return mentor_id

    def pair(
        self, mentor_id: str, members: list[str], opened_at: str, *, kind: str = "individual"
    ) -> str:
        body: dict[str, Any] = {
            "kind": kind,
            "mentor_id": mentor_id,
            "members": members,
            "location": OFF_SITE,
            "criteria": ["shared_experience"],
            "opened_at": opened_at,
        }
        if kind == "group":
            body["focus"] = "employment"
        return str(self.post("/pairings", body)["id"])

    def close(self, pairing_id: str) -> Any:
        return self.post(
            f"/pairings/{pairing_id}/closure",
            {
                "closure_type": "planned",
                "reason": "commitment completed",
                "initiator": "program",
                "rematch_eligible": True,
            },
        )

    def policy(self, **overrides: Any) -> Any:
        return self.post("/policy", rules(**overrides), role="grantee_admin")

    # -- meetings ---------------------------------------------------------------------------------
    @staticmethod
    def meeting_body(
        pairing_id: str,
        at: str,
        *,
        location: dict[str, Any] | None = None,
        record: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "pairing_id": pairing_id,
            "scheduled_for": at,
            "location": location or OFF_SITE,
        }
        if record is not None:
            body["held"] = record
        return body

    def meet(
        self,
        pairing_id: str,
        at: str,
        minutes: int = 60,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        location: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Any:
        """Record a meeting held at `at` (scheduled for the same moment)."""
        return self.post(
            "/meetings",
            self.meeting_body(
                pairing_id,
                at,
                location=location,
                record=held(at, minutes, **extra),
            ),
            role=role,
            sub=sub,
        )

    def schedule(self, pairing_id: str, at: str, **kw: Any) -> Any:
        return self.post("/meetings", self.meeting_body(pairing_id, at, **kw))

    def cadence(self, pairing_id: str, weeks: int = 12, **kw: Any) -> dict[str, str]:
        out = self.view(f"/pairings/{pairing_id}/cadence", weeks=weeks, **kw)
        return {w["week"]: w["status"] for w in out["weeks"]}

    def log(self, pairing_id: str, only: str | None = None) -> list[dict[str, Any]]:
        """The meeting log of a pairing (`only`: one status)."""
        params: dict[str, Any] = {"pairing_id": pairing_id}
        if only is not None:
            params["status"] = only  # the query parameter, not the expected HTTP status
        projector.drain(self.db, self.schema)
        r = self.client.get(self.base + "/meetings", params=params, headers=self.headers())
        assert r.status_code == 200, r.text
        return list(r.json()["items"])
