"""The docs keep up with the code: every problem code is in docs/errors.md, every path of the
OpenAPI document is in README.md's API overview."""

from __future__ import annotations

import re
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "domain", ROOT / "services"]

# `code="..."` in any call (RuleViolation(..., code="x"), DomainError subclasses), and the class
# default `default_code = "..."`; `\s*` spans the newlines ruff puts in long calls.
KEYWORD_CODE = re.compile(r"\b(?:default_)?code\s*(?::\s*[\w\[\]]+\s*)?=\s*\"([a-z][a-z0-9_]*)\"")
# `ProblemError(<status>, "<code>", ...)`, possibly split over lines.
PROBLEM_ERROR = re.compile(r"\bProblemError\(\s*(\d{3})\s*,\s*\"([a-z][a-z0-9_]*)\"")
# The status → code map of framework errors in services/api/problems.py (`404: "not_found"`)
# and the codes passed to `problem_response(status, "<code>", ...)`.
STATUS_MAP = re.compile(r"^\s*(\d{3})\s*:\s*\"([a-z][a-z0-9_]*)\"\s*,", re.MULTILINE)
PROBLEM_RESPONSE = re.compile(r"\bproblem_response\(\s*(\d{3})\s*,\s*\"([a-z][a-z0-9_]*)\"")
# Helpers that take the code as their last argument, e.g. goals' `_required(text, what, "code")`.
# Its other arguments may hold strings with parentheses, so strings are matched whole.
REQUIRED_HELPER = re.compile(
    r"\b_required\((?:[^()\"]|\"[^\"]*\")*?,\s*\"([a-z][a-z0-9_]*)\"\s*,?\s*\)"
)
# The fallback of that status map: `{...}.get(exc.status_code, "http_error")`.
STATUS_FALLBACK = re.compile(r"\.get\(\s*[\w.]+\s*,\s*\"([a-z][a-z0-9_]*)\"\s*\)")


def source_codes() -> dict[str, set[str]]:
    """Every problem code raised in domain/ and services/, with the files that raise it."""
    found: dict[str, set[str]] = {}
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            codes = set(KEYWORD_CODE.findall(text)) | set(REQUIRED_HELPER.findall(text))
            codes |= {code for _, code in PROBLEM_ERROR.findall(text)}
            codes |= {code for _, code in PROBLEM_RESPONSE.findall(text)}
            if path.name == "problems.py":
                codes |= {code for _, code in STATUS_MAP.findall(text)}
                codes |= set(STATUS_FALLBACK.findall(text))
            for code in codes:
                found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return found


def documented_codes() -> set[str]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|", text, re.MULTILINE))


def test_scanner_finds_multiline_calls() -> None:
    sample = (
        'raise ProblemError(\n    503,\n    "view_behind",\n    "x",\n)\n'
        'raise RuleViolation(\n    "d",\n    code="late_code",\n)\n'
        '_required(\n    evidence,\n    "evidence (a text or URL reference)",\n    "evidence_required",\n)'
    )
    assert PROBLEM_ERROR.findall(sample) == [("503", "view_behind")]
    assert KEYWORD_CODE.findall(sample) == ["late_code"]
    assert REQUIRED_HELPER.findall(sample) == ["evidence_required"]


def test_every_problem_code_is_documented() -> None:
    found = source_codes()
    # The scan must see the well-known codes, or the regexes have gone blind.
    for code in (
        "illegal_transition",
        "view_behind",
        "grantee_not_found",
        "not_found",
        "internal_error",
        "database_unavailable",
        "request_in_flight",
        "note_required",
        "evidence_required",
        "http_error",
    ):
        assert code in found, f"the scan no longer finds {code!r}"
    documented = documented_codes()
    missing = {code: sorted(files) for code, files in found.items() if code not in documented}
    assert not missing, (
        f"problem codes raised in the code but missing from docs/errors.md: {missing}"
    )


def test_no_documented_code_is_stale() -> None:
    stale = sorted(documented_codes() - set(source_codes()))
    assert not stale, f"docs/errors.md lists codes no code raises any more: {stale}"


def test_problem_types_are_urns_of_their_code() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "urn:prowd:problem:<code>" in text


def test_every_openapi_path_is_in_the_readme(client: TestClient[Litestar]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    spec = r.json()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    overview = readme.split("## API overview", 1)
    assert len(overview) == 2, "README.md has no '## API overview' section"
    section = overview[1].split("\n## ", 1)[0]
    rows = set(
        re.findall(r"^\|\s*`?(GET|POST|PUT|PATCH|DELETE)`?\s*\|\s*`([^`]+)`", section, re.MULTILINE)
    )
    missing = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
        and (method.upper(), path) not in rows
    ]
    assert not missing, f"endpoints missing from README.md's API overview: {missing}"
    stale = sorted(f"{m} {p}" for m, p in rows if m.lower() not in spec["paths"].get(p, {}))
    assert not stale, f"README.md's API overview lists endpoints the API does not have: {stale}"


def _types_in(text: str) -> set[str]:
    """The event types a passage names, `a.b|c` read as `a.b` and `a.c`."""
    found: set[str] = set()
    for word in re.findall(r"`([a-z_]+(?:\.[a-z_|]+)?)`", text):
        head, _, tails = word.partition(".")
        found |= {f"{head}.{t}" for t in tails.split("|")} if tails else {head}
    return found


def test_the_readme_and_the_webhook_guide_name_the_event_types_an_endpoint_may_subscribe_to(
    client: TestClient[Litestar], auth, grantee
) -> None:
    from domain.webhooks import EVENT_TYPES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    subscribable = readme.split("- **What goes out**", 1)[1].split("- **", 1)[0]
    subscribable = subscribable.split("`ping`", 1)[0]
    assert _types_in(subscribable) - {"event_types"} == set(EVENT_TYPES)
    guide = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z_.]+)` \|", guide, re.MULTILINE))
    assert set(EVENT_TYPES) | {"ping"} <= rows
    # Both say a ping is not subscribed to, and the API agrees.
    ping_row = next(line for line in guide.splitlines() if line.startswith("| `ping` |"))
    assert "not subscribed to" in ping_row and "not subscribed to" in readme
    r = client.post(
        f"/v1/grantees/{grantee}/webhook-endpoints",
        json={"url": "https://rrc.example/hooks", "facility": "RRC-1", "event_types": ["ping"]},
        headers=auth("grantee_admin", grantee),
    )
    assert r.status_code == 400 and "ping" in r.text and "event_types" in r.text, r.text


# A pointer into the docs in a message or docstring: `(docs/operations.md, "A wrong master key")`
# or `(README.md, "Configuration")`: a file, and the title of one of its headings.
DOC_SECTION = re.compile(r"\(((?:docs/)?[\w.-]+\.md),\s*\"([^\"]+)\"\)")
DOC_FILE = re.compile(r"\b(docs/[\w-]+\.md)\b")


def test_every_doc_a_message_points_to_exists_with_its_section() -> None:
    from services.settings import Settings

    # The refusal to start names where the settings are described (issue: it named a section
    # that did not exist).
    try:
        Settings.from_env({"PROWD_ENV": "production"})
    except SystemExit as stop:
        refusal = str(stop.code)
    assert DOC_SECTION.search(refusal), refusal
    texts = [refusal]
    for base in [*SOURCES, ROOT / "projections"]:
        texts += [p.read_text(encoding="utf-8") for p in sorted(base.rglob("*.py"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tools").glob("*.py"))]
    broken = set()
    for text in texts:
        for name, section in DOC_SECTION.findall(text):
            path = ROOT / name
            headings = (
                {
                    line.lstrip("#").strip()
                    for line in path.read_text().splitlines()
                    if line.startswith("#")
                }
                if path.exists()
                else set()
            )
            if section not in headings:
                broken.add(f"{name}, {section!r}")
        broken |= {name for name in DOC_FILE.findall(text) if not (ROOT / name).exists()}
    assert not broken, f"messages point to docs or sections that do not exist: {sorted(broken)}"


def test_the_api_guide_does_not_call_built_identity_unbuilt() -> None:
    """docs/api.md once said RRC API keys and JWKS tokens were not built after both were."""
    guide = " ".join((ROOT / "docs" / "api.md").read_text(encoding="utf-8").split())
    assert "are not built" not in guide
    for built in ("services/identity/apikeys.py", "services/identity/oidc.py"):
        assert (ROOT / built).exists() and built in guide, built
