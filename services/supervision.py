"""Use cases: supervision (being built)."""

from __future__ import annotations

from services.mentoring import MentoringCommands


class SupervisionCommands(MentoringCommands):
    pass
