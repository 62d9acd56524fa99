"""Use cases for the grantee's program policy: who may mentor whom, caseloads, cadence."""

from __future__ import annotations

from dataclasses import dataclass

from domain.common import NotFound
from domain.policy import POLICY_ID, MentoringRules, ProgramPolicy
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Policy:
    ledger: LedgerApplication

    def rules(self) -> MentoringRules:
        """The rules in force: the tip sheet's defaults until the grantee sets its own."""
        try:
            return self.ledger.load(ProgramPolicy, POLICY_ID, "policy").rules
        except NotFound:
            return MentoringRules()

    def set_rules(self, command: Command, rules: MentoringRules) -> Saved[ProgramPolicy]:
        """Set who may mentor whom per stage, the caseload limit and group sizes."""
        try:
            policy = self.ledger.load(ProgramPolicy, POLICY_ID, "policy")
            policy.change(rules)
        except NotFound:
            policy = ProgramPolicy.create(rules)
        return self.ledger.record(policy, command)
