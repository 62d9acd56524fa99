"""The goal forms' fields as a person meets them (decision 149), through HTTP form posts against
the real application: every field left empty is said in one round, next to each field, with
nothing sent to the API; the evidence of progress is required and marked so; and every console
text area takes at most the characters the API takes for the field it feeds (its OpenAPI
`maxLength`), so a long text is cut as it is typed, never refused after."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.api.console.actions import Field
from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, sign_in
from tests.meetings_helpers import World
from tests.test_console_goal_forms import GOAL, NOW

TEMPLATES = Path(__file__).parent.parent / "services/api/console/templates"


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: Any) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def boxes(page: str) -> dict[str, str]:
    """Each text area and text box of the page's form: its name and its whole tag."""
    tags = re.findall(r"<textarea [^>]*>|<input [^>]*>", page)
    return {re.search(r'name="([^"]+)"', t).group(1): t for t in tags if 'name="' in t}


def limit(tag: str) -> int | None:
    found = re.search(r'maxlength="(\d+)"', tag)
    return int(found.group(1)) if found else None


def api_limits(client: Any, path: str) -> dict[str, int]:
    """The `maxLength` of each text property of the body of `POST path` (OpenAPI)."""
    spec = client.get("/schema/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema or len(schema.get("allOf", [])) == 1:
            schema = (
                schemas[schema["$ref"].rsplit("/", 1)[-1]]
                if "$ref" in schema
                else schema["allOf"][0]
            )
        return schema

    def longest(schema: dict[str, Any]) -> int | None:
        schema = resolve(schema)
        if "maxLength" in schema:
            return int(schema["maxLength"])
        return next(
            (m for s in schema.get("oneOf", []) + schema.get("anyOf", []) if (m := longest(s))),
            None,
        )

    body = spec["paths"][f"/v1/grantees/{{grantee}}{path}"]["post"]["requestBody"]
    properties = resolve(body["content"]["application/json"]["schema"])["properties"]
    return {name: m for name, p in properties.items() if (m := longest(p))}


def test_a_goal_form_says_every_empty_field_at_once_and_sends_nothing(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)
    action = f"/console/participants/{pid}/goal"
    key = key_of(browser.get(action).text, action)
    before = world.events()
    empty = dict.fromkeys(GOAL, "")
    r = post(browser, action, empty, key)
    assert r.status_code == 422
    assert beside(r, "statement") == "Specific: what the participant will do: fill this in."
    assert beside(r, "measure") == "Measurable: how you will know: fill this in."
    assert beside(r, "target") == "Achievable: the target: fill this in."
    assert beside(r, "domain") == "Relevant: the part of life it serves: choose one of the options."
    assert beside(r, "horizon") == "Time-bound: the horizon: choose one of the options."
    assert beside(r, "target_date") == "Time-bound: the target date: enter a date."
    assert world.events() == before

    gid = world.post("/goals", {"participant_id": pid, **GOAL}, role="case_manager")["id"]
    projector.drain(world.db, world.schema)
    # The revision: its terms cleared and no reason, all said in the same round.
    action = f"/console/goals/{gid}/revise"
    key = key_of(browser.get(action).text, action)
    r = post(browser, action, {**GOAL, "statement": "", "horizon": "", "reason": ""}, key)
    assert r.status_code == 422
    assert beside(r, "statement") == "Specific: what the participant will do: fill this in."
    assert beside(r, "horizon") == "Time-bound: the horizon: choose one of the options."
    assert beside(r, "reason") == "Why it changes: fill this in."
    # Progress: what changed and its evidence, both said at once.
    action = f"/console/goals/{gid}/progress"
    key = key_of(browser.get(action).text, action)
    r = post(browser, action, {"note": "", "evidence": "", "percent": "half"}, key)
    assert r.status_code == 422
    assert beside(r, "note") == "What changed: fill this in."
    assert beside(r, "evidence") == "Evidence: fill this in."
    assert beside(r, "percent") == "Percent done (optional) must be a whole number."
    # A step with no words.
    action = f"/console/goals/{gid}/step"
    key = key_of(browser.get(action).text, action)
    r = post(browser, action, {"description": "", "due_on": ""}, key)
    assert beside(r, "description") == "The step: fill this in."
    assert world.events() == before + 1


def test_the_evidence_is_marked_required_and_every_text_area_takes_what_the_api_takes(
    browser, world, client
):
    pid = world.enrol(name="Odalys")
    gid = world.post("/goals", {"participant_id": pid, **GOAL}, role="case_manager")["id"]
    step = world.post(f"/goals/{gid}/steps", {"description": "Call the DMV"}, role="case_manager")
    step_id = step["steps"][0]["step_id"]
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)

    progress = boxes(browser.get(f"/console/goals/{gid}/progress").text)
    assert " required" in progress["evidence"] and " required" in progress["note"]
    # Required fields carry no "(optional)"; the optional percent says so.
    page = browser.get(f"/console/goals/{gid}/progress").text
    assert '<label for="evidence">Evidence</label>' in page
    assert '<label for="percent">Percent done (optional)</label>' in page

    forms = {
        f"/console/goals/{gid}/progress": f"/goals/{gid}/progress",
        f"/console/goals/{gid}/revise": f"/goals/{gid}/revisions",
        f"/console/goals/{gid}/step": f"/goals/{gid}/steps",
        f"/console/goals/{gid}/achieve": f"/goals/{gid}/achievement",
        f"/console/goals/{gid}/abandon": f"/goals/{gid}/abandonment",
        f"/console/goals/{gid}/steps/{step_id}/complete": (
            f"/goals/{gid}/steps/{{step_id}}/completion"
        ),
        f"/console/goals/{gid}/steps/{step_id}/drop": f"/goals/{gid}/steps/{{step_id}}/drop",
        f"/console/participants/{pid}/goal": "/goals",
        f"/console/participants/{pid}/note": f"/participants/{pid}/case-notes",
    }
    for console, api in forms.items():
        page = browser.get(console)
        assert page.status_code == 200, console
        path = re.sub(r"/goals/[0-9a-f-]{36}", "/goals/{goal_id}", api)
        path = re.sub(r"/participants/[0-9a-f-]{36}", "/participants/{participant_id}", path)
        limits = api_limits(client, path)
        shown = boxes(page.text)
        areas = re.findall(r'<textarea [^>]*name="([^"]+)"', page.text)
        assert areas or console.endswith("/step") or console.endswith("/goal"), console
        for name in areas:
            assert limit(shown[name]) == limits[name], (console, name)
        for name, tag in shown.items():
            if name in limits and 'type="text"' in tag:
                assert limit(tag) == limits[name], (console, name)


def test_no_text_area_is_without_its_limit():
    # Drawn from a field: the field must say its limit.
    with pytest.raises(ValueError, match="maxlength"):
        Field("note", "A note", "textarea")
    # Written in a template: each says it.
    for template in TEMPLATES.glob("*.html"):
        for tag in re.findall(r"<textarea [^>]*>", template.read_text()):
            assert re.search(r'maxlength="(\d+|\{\{ f\.maxlength \}\})"', tag), (template, tag)
