"""The grantee application: every use case of one grantee, over its own log."""

from __future__ import annotations

from services.participants import ParticipantCommands


class GranteeApplication(ParticipantCommands):
    """All use cases of one grantee, over `g_<slug>.events`."""
