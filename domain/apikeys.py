"""API keys of RRC systems: issued by a grantee admin for one of the grantee's RRCs, revoked
once (DESIGN D5).

The events say what happened (a key was issued for an RRC, by whom; it was revoked); the
credential itself never enters the log: the secret is shown once to its creator and only its
SHA-256 is kept, in the platform's key table (services/identity/apikeys.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from domain.common import ProwdAggregate, RuleViolation, utcnow
from domain.facilities import Facility, FacilityKind

MAX_DESCRIPTION = 200


class ApiKey(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        rrc: str
        description: str
        issued_by: str
        issued_at: datetime
        revoked_at: datetime | None
        revoked_by: str | None

    class Issued(ProwdAggregate.Created):
        rrc: str
        description: str

        def apply(self, k: Any) -> None:
            k.rrc = self.rrc
            k.description = self.description
            k.issued_by = self.recorded_by
            k.issued_at = self.occurred_at
            k.revoked_at = None
            k.revoked_by = None

    class Revoked(ProwdAggregate.Event):
        reason: str

        def apply(self, k: Any) -> None:
            k.revoked_at = self.occurred_at
            k.revoked_by = self.recorded_by

    @classmethod
    def issue(cls, *, facility: Facility, description: str) -> ApiKey:
        """A key for the system of one RRC; `facility` must be an RRC of the grantee."""
        if facility.kind is not FacilityKind.RRC:
            raise RuleViolation(
                f"facility {facility.code} is a {facility.kind.value}; API keys are for RRCs",
                code="facility_wrong_kind",
            )
        description = description.strip()
        if not 0 < len(description) <= MAX_DESCRIPTION:
            raise RuleViolation(
                f"describe the system the key is for in 1-{MAX_DESCRIPTION} characters",
                code="api_key_description_required",
            )
        key: ApiKey = cls._create(
            cls.Issued,
            id=uuid4(),
            rrc=facility.code,
            description=description,
            occurred_at=utcnow(),
        )
        return key

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, reason: str = "") -> None:
        """Revoke the key: from this event on it authenticates nothing. Final."""
        if self.revoked:
            raise RuleViolation("the API key is already revoked", code="api_key_revoked")
        self.trigger_event(self.Revoked, reason=reason.strip(), occurred_at=utcnow())
