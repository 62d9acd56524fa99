"""The grantee application: every use case of one grantee, over its own log."""

from __future__ import annotations

from services.app.consents import ConsentCommands
from services.app.exports import ExportCommands
from services.app.goals import GoalsCommands
from services.app.meetings import MeetingsCommands
from services.app.supervision import SupervisionCommands
from services.identity.apikeys import ApiKeyCommands
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
