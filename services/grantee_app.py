"""The grantee application: every use case of one grantee, over its own log."""

from __future__ import annotations

from services.goals import GoalsCommands
from services.meetings import MeetingsCommands
from services.supervision import SupervisionCommands


class GranteeApplication(MeetingsCommands, GoalsCommands, SupervisionCommands):
    """All use cases of one grantee, over `g_<slug>.events`."""
