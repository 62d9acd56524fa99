"""One grantee's use cases: a small class per area over the grantee's ledger, wired here.

Each area receives what it works with, explicitly: the ledger (its log: load, record) and the
areas whose records it reads. Nothing is inherited from another area; a reader sees an area's
collaborators in its fields and here.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.app.alerts import Alerts
from services.app.apikeys import ApiKeys
from services.app.calendar import CalendarFeeds
from services.app.class_sessions import ClassSessions
from services.app.consents import Consents
from services.app.derived_exits import DerivedExits
from services.app.documents import Documents
from services.app.evaluation import Evaluation
from services.app.exports import Exports
from services.app.facilities import Facilities
from services.app.goals import Goals
from services.app.imports import Imports
from services.app.meetings import Meetings
from services.app.mentors import Mentors
from services.app.pairings import Pairings
from services.app.participants import Participants
from services.app.policy import Policy
from services.app.referrals import Referrals
from services.app.rrc import RrcSharing
from services.app.supervision import Supervision
from services.app.webhooks import Webhooks
from services.store.documents import PgDocumentStore
from services.store.ledger import LedgerApplication


class GranteeApp:
    """Every use case of one grantee, over `g_<slug>.events`."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger
        self.facilities = Facilities(ledger)
        self.policy = Policy(ledger)
        # A participant's move reviews the pairings it touches (the pairings area decides).
        self.derived_exits = DerivedExits(ledger)
        self.participants = Participants(
            ledger,
            self.facilities,
            review=lambda p: self.pairings.review_after_move(p),
            derived_exit_of=self.derived_exits.exit_on,
        )
        self.mentors = Mentors(ledger, self.facilities, self.participants)
        self.pairings = Pairings(
            ledger, self.policy, self.facilities, self.participants, self.mentors
        )
        self.class_sessions = ClassSessions(ledger, self.facilities)
        self.meetings = Meetings(
            ledger,
            self.policy,
            self.facilities,
            self.participants,
            self.mentors,
            self.pairings,
            self.class_sessions,
        )
        self.goals = Goals(ledger, self.participants)
        self.evaluation = Evaluation(ledger, self.participants, self.mentors, self.pairings)
        self.referrals = Referrals(ledger, self.participants, self.pairings, self.meetings)
        self.supervision = Supervision(ledger, self.participants, self.mentors, self.pairings)
        self.consents = Consents(ledger, self.facilities, self.participants)
        self.rrc = RrcSharing(ledger, self.facilities, self.meetings, self.derived_exits)
        self.alerts = Alerts(ledger)
        self.exports = Exports(ledger)
        self.api_keys = ApiKeys(ledger, self.facilities)
        self.webhooks = Webhooks(ledger, self.facilities)
        self.calendar = CalendarFeeds(ledger)
        self.documents = Documents(
            ledger, self.participants, PgDocumentStore(ledger.db, ledger.schema)
        )
        self.imports = Imports(ledger, self.facilities, self.mentors)

    @property
    def schema(self) -> str:
        return self.ledger.schema

    @property
    def time_zone(self) -> str:
        return self.ledger.time_zone

    @property
    def zone(self) -> ZoneInfo:
        return self.ledger.zone
