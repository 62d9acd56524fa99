"""The development tokens `prowd demo` prints: one per role, for the first demo grantee."""

from __future__ import annotations

from services.demo.data import GRANTEES
from services.demo.keys import mentor_subject
from services.demo.mentors import PEER_MENTOR
from services.identity.access import Role
from services.identity.tokens import issue_token
from services.settings import Settings

# The grantee the printed tokens, the console's sign-in and the README's walk-through name.
DEMO_GRANTEE = GRANTEES[0][0]


def print_tokens(settings: Settings, *, host: str, port: int) -> None:
    """Print a token for each role, valid 8 hours, and a `curl` to try one with."""
    print("\nPROWD Ledger demo: development tokens (valid 8 hours)\n")
    print(
        "platform_admin (all grantees):\n  "
        + issue_token(
            settings, subject="demo-platform-admin", roles=["platform_admin"], grantees=["*"]
        )
        + "\n"
    )
    slug = DEMO_GRANTEE
    for role in Role:
        if role is Role.PLATFORM_ADMIN:
            continue
        grantees = ["*"] if role is Role.FEDERAL_OVERSIGHT else [slug]
        # RRC staff see one RRC of one grantee: the demo grantee's RRC.
        rrc = f"RRC-{slug[:1].upper()}1" if role is Role.RRC_STAFF else None
        # The peer mentor speaks as a demo mentor, so their own mentees show.
        subject = (
            mentor_subject(slug[:1].upper(), PEER_MENTOR)
            if role is Role.PEER_MENTOR
            else f"demo-{role.value}"
        )
        token = issue_token(
            settings, subject=subject, roles=[role.value], grantees=grantees, rrc=rrc
        )
        scope = ", ".join(grantees) + (f", RRC {rrc}" if rrc else "")
        who = f", mentor {PEER_MENTOR}" if role is Role.PEER_MENTOR else ""
        print(f"{role.value} ({scope}{who}):\n  {token}\n")
    print(
        f"Try: curl -H 'Authorization: Bearer <coordinator token>' http://{host}:{port}/v1/grantees/{slug}/participants\n"
    )
    mentor = mentor_subject(slug[:1].upper(), PEER_MENTOR)
    print(
        f"Staff console: http://{host}:{port}/console/\n"
        f"  Development sign-in: pick a role and the grantee {slug}; leave User empty, except\n"
        f"  peer_mentor (User: {mentor}, the mentor {PEER_MENTOR}) and rrc_staff"
        f" (RRC: RRC-{slug[:1].upper()}1).\n"
    )
