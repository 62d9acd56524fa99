"""docs/security.md prints the role matrix the code enforces."""

from pathlib import Path

from services.identity.access import MATRIX, Role
from services.identity.matrix_table import markdown_table


def test_security_doc_embeds_the_current_matrix():
    doc = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    assert markdown_table() in doc


def test_every_action_is_granted_to_some_role_and_platform_admin_sees_no_personal_data():
    for name, rule in MATRIX.items():
        assert rule.roles, name
        if rule.personal_data:
            assert Role.PLATFORM_ADMIN not in rule.roles, name
            assert Role.FEDERAL_OVERSIGHT not in rule.roles, name
