"""The grantee application: every use case of one grantee, over its own log."""

from __future__ import annotations

from services.mentoring import MentoringCommands


class GranteeApplication(MentoringCommands):
    """All use cases of one grantee, over `g_<slug>.events`."""
