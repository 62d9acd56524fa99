"""The role matrix as a Markdown table: `docs/security.md` embeds it (a test keeps them
equal) and `prowd roles` prints it."""

from __future__ import annotations

from services.identity.access import MATRIX, OWN_RECORDS_ONLY, Role


def markdown_table() -> str:
    """The matrix as a Markdown table (docs/security.md embeds it; a test keeps them equal)."""
    roles = list(Role)
    lines = [
        "| action | scope | personal data | " + " | ".join(r.value for r in roles) + " |",
        "|---|---|---|" + "---|" * len(roles),
    ]
    for name, rule in MATRIX.items():
        own = OWN_RECORDS_ONLY.get(name, frozenset())
        cells = [("own" if r in own else "yes") if r in rule.roles else "-" for r in roles]
        lines.append(
            f"| `{name}` | {rule.scope} | {'yes' if rule.personal_data else 'no'} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"
