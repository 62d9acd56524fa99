"""Use cases: meetings (being built)."""

from __future__ import annotations

from services.mentoring import MentoringCommands


class MeetingsCommands(MentoringCommands):
    pass
