"""`prowd token` prints only tokens that can be used: one already expired (`--ttl` of zero or
less) or for a grantee that is not registered is refused, exit 2, in one line on standard
error, as the CLI refuses other bad arguments; nothing is printed on standard output."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.cli.main import parser
from services.cli.tokens import cmd_token
from services.identity.tokens import verify_token
from services.settings import Settings


def token(
    settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """`prowd token ARGV`'s exit code, standard output and standard error."""
    capsys.readouterr()  # what came before (the requests' log lines)
    code = cmd_token(parser().parse_args(["token", *argv]), settings)
    printed = capsys.readouterr()
    return code, printed.out, printed.err


@pytest.mark.parametrize("ttl", ["-5", "0"])
def test_a_token_expired_when_printed_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str], ttl: str
) -> None:
    code, out, err = token(settings, capsys, "--grantee", "*", "--role", "auditor", "--ttl", ttl)
    assert (code, out) == (2, "")
    assert err == f"prowd token: --ttl must be at least 1 second, got {ttl}\n"


def test_a_token_for_a_grantee_not_registered_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str], make_grantee: Callable[[], str]
) -> None:
    code, out, err = token(settings, capsys, "--grantee", "nosuch", "--role", "coordinator")
    assert (code, out) == (2, "")
    assert (
        err
        == "prowd token: no grantee 'nosuch' (prowd token --grantee '*' for a platform-wide role)\n"
    )

    slug = make_grantee()
    code, out, _ = token(
        settings, capsys, "--grantee", slug, "--role", "coordinator", "--ttl", "60"
    )
    assert code == 0
    principal = verify_token(settings, out.splitlines()[-1])
    assert principal.grantees == frozenset({slug}) and principal.roles == {"coordinator"}

    # A platform-wide token names no grantee to look up.
    code, out, _ = token(settings, capsys, "--grantee", "*", "--role", "platform_admin")
    assert code == 0 and verify_token(settings, out.splitlines()[-1]).grantees == {"*"}
