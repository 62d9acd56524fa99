"""The grantee application: every use case of one grantee, over its own log."""

from __future__ import annotations

from services.apikeys import ApiKeyCommands
from services.consents import ConsentCommands
from services.exports import ExportCommands
from services.goals import GoalsCommands
from services.meetings import MeetingsCommands
from services.supervision import SupervisionCommands
from services.webhooks.commands import WebhooksCommands


class GranteeApplication(
    MeetingsCommands,
    GoalsCommands,
    SupervisionCommands,
    ConsentCommands,
    ApiKeyCommands,
    WebhooksCommands,
    ExportCommands,
):
    """All use cases of one grantee, over `g_<slug>.events`."""
