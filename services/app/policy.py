"""Use cases for the grantee's program policy: who may mentor whom, caseloads, cadence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from domain.common import NotFound
from domain.policy import POLICY_ID, MentoringRules, ProgramPolicy
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Policy:
    ledger: LedgerApplication

    def current(self) -> ProgramPolicy | None:
        """The grantee's policy; None until it sets one (the tip sheet's defaults apply)."""
        try:
            return self.ledger.load(ProgramPolicy, POLICY_ID, "policy")
        except NotFound:
            return None

    def rules(self) -> MentoringRules:
        """The rules in force: the tip sheet's defaults until the grantee sets its own."""
        policy = self.current()
        return MentoringRules() if policy is None else policy.rules

    def amend(self, command: Command, changes: dict[str, Any]) -> Saved[ProgramPolicy]:
        """Change the named rules (`changes`: field -> value, already of their types), keeping
        the others in force; the result is checked as a whole policy is."""
        return self.set_rules(command, msgspec.structs.replace(self.rules(), **changes))

    def set_rules(self, command: Command, rules: MentoringRules) -> Saved[ProgramPolicy]:
        """Set who may mentor whom per stage, the caseload limit and group sizes."""
        try:
            policy = self.ledger.load(ProgramPolicy, POLICY_ID, "policy")
            policy.change(rules)
        except NotFound:
            policy = ProgramPolicy.create(rules)
        return self.ledger.record(policy, command)
