"""The README's walk-through with curl, run as written: each `curl` of the section against the
API (a grantee of its own in place of `lakeshore`), on a day past the end of August as the
README warns, and the illegal move its prose names."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from services.store.database import Database
from tests.conftest import FreezeAt, Token, unique_slug

ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime(2026, 12, 7, 15, tzinfo=UTC)


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## A walk-through with curl")[1].split("\n## ")[0]


def curls() -> list[list[str]]:
    """Each `curl` command of the section's shell block, as its words."""
    block = section().split("```sh")[1].split("```")[0]
    commands = re.findall(r"^curl .*?(?=^\S|\Z)", block, re.M | re.S)
    return [shlex.split(c.replace("\\\n", " ")) for c in commands]


def send(client: TestClient[Litestar], words: list[str], values: dict[str, str]) -> Any:
    method, url, headers, body = "GET", "", {}, None
    it = iter(words[1:])
    for w in it:
        if w == "-X":
            method = next(it)
        elif w == "-H":
            name, _, value = next(it).partition(": ")
            headers[name] = value
        elif w == "-d":
            body = next(it)
        elif w.startswith("http"):
            url = w
    for name, value in values.items():
        url = url.replace(name, value)
        headers = {k: v.replace(name, value) for k, v in headers.items()}
        body = body.replace(name, value) if body else body
    path = re.sub(r"^http://127\.0\.0\.1:8000", "", url)
    return client.request(method, path, content=body, headers=headers)


def test_the_readme_walk_through_runs_as_written(
    client: TestClient[Litestar], auth: Token, db: Database, frozen_at: FreezeAt
) -> None:
    frozen_at(TODAY, tick=True)
    slug = unique_slug("lk")
    admin = auth("platform_admin")["Authorization"].removeprefix("Bearer ")
    coordinator = auth("coordinator", slug)["Authorization"]
    # The shell's variables: $ADMIN and $T hold tokens, $H the coordinator's header.
    values = {"lakeshore": slug, "$ADMIN": admin}
    answers = []
    for words in curls():
        words = [f"Authorization: {coordinator}" if w == "$H" else w for w in words]
        if slug in values.values() and answers:
            # The worker `prowd demo` runs beside the API, caught up between two commands.
            projector.drain(db, f"g_{slug}")
        r = send(client, words, values)
        assert r.status_code in (200, 201), (words, r.text)
        answers.append(r.json())
        if "id" in answers[-1] and answers[-1].get("stage") == 1:
            values["$ID"] = answers[-1]["id"]
            # What the README shows of the enrolment's answer.
            assert answers[-1]["position"] == 4
    assert "$ID" in values
    # The stage-3 answer reads exited past the end of August, as the README says.
    assert answers[-3]["stage"] == 3 and answers[-3]["status"] == "exited", json.dumps(answers[-3])

    # The illegal move the prose names, dated as it is there: illegal_transition, nothing appended.
    move = re.search(r"`POST …/participants/\$ID/stage-transitions`\nwith `(\{.*?\})`", section())
    assert move, "the README's illegal move is not where this test looks"
    path = f"/v1/grantees/{slug}/participants/{values['$ID']}/stage-transitions"
    body = json.loads(move.group(1))
    before = client.get(f"{path.rsplit('/', 1)[0]}/history", headers={"Authorization": coordinator})
    r = client.post(path, json=body, headers={"Authorization": coordinator})
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "urn:prowd:problem:illegal_transition"
    # From 31 August on the derived exit is refused first, as the README says.
    late = {**body, "occurred_at": "2026-08-31T09:00:00-05:00"}
    r = client.post(path, json=late, headers={"Authorization": coordinator})
    assert r.status_code == 422 and r.json()["code"] == "participant_exited", r.text
    after = client.get(f"{path.rsplit('/', 1)[0]}/history", headers={"Authorization": coordinator})
    assert after.json()["events"] == before.json()["events"]
