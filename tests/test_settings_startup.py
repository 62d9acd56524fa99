"""Start-up checks (issue 19): every missing or invalid setting named in one message, and
`PROWD_ENV` limited to its documented values."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.settings import Settings


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as e:
        Settings.from_env(env)
    return str(e.value.code)


@pytest.mark.parametrize("typo", ["prod", "Production", "dev", "staging"])
def test_a_misspelt_environment_is_refused(typo):
    message = refusal({"PROWD_ENV": typo})
    assert "PROWD_ENV must be one of development, production" in message and repr(typo) in message


def test_production_names_every_missing_setting_at_once(tmp_path):
    message = refusal({"PROWD_ENV": "production", "PROWD_POOL_MAX": "ten"})
    for expected in (
        "PROWD_POOL_MAX must be an integer, got 'ten'",
        "PROWD_DATABASE_URL is unset",
        "PROWD_MASTER_KEY or PROWD_MASTER_KEY_FILE is unset",
        "PROWD_AUDIT_KEY_FILE is unset",
        "PROWD_JWKS_URL is unset",
        "PROWD_OIDC_ISSUER is unset",
        "PROWD_OIDC_AUDIENCE is unset",
    ):
        assert expected in message, message
    assert message.count("\n  - ") == 7


def test_production_refuses_a_clock_set_by_hand():
    message = refusal(
        {
            "PROWD_ENV": "production",
            "PROWD_DATABASE_URL": "postgresql:///?service=prowd",
            "PROWD_MASTER_KEY_FILE": "/run/mk",
            "PROWD_AUDIT_KEY_FILE": "/run/ak",
            "PROWD_JWKS_URL": "https://idp.example/certs",
            "PROWD_OIDC_ISSUER": "https://idp.example",
            "PROWD_OIDC_AUDIENCE": "prowd",
            "PROWD_CLOCK": "2026-01-01T00:00:00Z",
        }
    )
    assert "PROWD_CLOCK is for development" in message
    assert message.count("\n  - ") == 1


def test_a_complete_production_environment_starts(tmp_path):
    (tmp_path / "mk").write_text("x")
    (tmp_path / "ak").write_text("x")
    s = Settings.from_env(
        {
            "PROWD_ENV": "production",
            "PROWD_DATABASE_URL": "postgresql:///?service=prowd",
            "PROWD_MASTER_KEY_FILE": str(tmp_path / "mk"),
            "PROWD_AUDIT_KEY_FILE": str(tmp_path / "ak"),
            "PROWD_JWKS_URL": "https://idp.example/certs",
            "PROWD_OIDC_ISSUER": "https://idp.example",
            "PROWD_OIDC_AUDIENCE": "prowd",
        }
    )
    assert s.environment == "production"
    assert Settings.from_env({}).environment == "development"


def test_the_cli_prints_the_list_and_exits_non_zero():
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"],
        env={"PROWD_ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "PROWD_MASTER_KEY" in done.stderr and "PROWD_JWKS_URL" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["migrate"], ["verify"], ["serve", "--no-worker"]])
def test_a_malformed_database_url_is_one_line_naming_the_setting(command, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *command],
        env={
            "PATH": "/usr/bin:/bin",
            "PROWD_DATA_DIR": str(tmp_path),
            "PROWD_DATABASE_URL": "notaurl",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    record = json.loads(line)
    assert record["event"] == "cannot start" and record["level"] == "error", record
    assert "PROWD_DATABASE_URL" in record["reason"], record
