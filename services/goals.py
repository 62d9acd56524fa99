"""Use cases: goals (being built)."""

from __future__ import annotations

from services.mentoring import MentoringCommands


class GoalsCommands(MentoringCommands):
    pass
