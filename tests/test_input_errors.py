"""Hostile input crashes nothing and every refusal says what to fix: numbers out of their range
name the field and the range, a control character in a parameter names the parameter, a
malformed body says where it broke, and no refusal echoes more than a short piece of the input.
Each refused request leaves the log as it was."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from services.cli.records import cmd_export
from services.projector import live as projector
from services.refusals import shown
from tests.test_evaluation import JOB
from tests.test_request_edges import allowed
from tests.test_role_matrix import fill, operations
from tests.test_supervision import SupApi, World, world


@pytest.fixture
def w(client, auth, grantee, db) -> World:
    return world(SupApi(client, auth, grantee, db))


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


# -- money, hours, counts ------------------------------------------------------------------
@pytest.mark.parametrize(
    "wage",
    ["1E+308", 1e308, 10**30, "1E+200000", "10000000", "0.001", "1E-30", "18.505", "-5", "0"],
)
def test_a_wage_outside_its_range_is_refused_naming_the_field_and_the_range(w: World, client, wage):
    api = w.api
    before = api.events()
    r = client.post(
        f"{api.base}/participants/{w.mentee}/outcomes/employment",
        json={**JOB, "wage": wage},
        headers=api.headers(),
    )
    body = problem(r, 422, "invalid_wage")
    assert "wage" in body["detail"] and "0.01" in body["detail"] and "9999999.99" in body["detail"]
    assert body["errors"] == [
        {"message": body["detail"], "key": "wage", "source": "body", "field": "wage"}
    ]
    assert api.events() == before


def test_the_largest_and_smallest_wage_are_taken(w: World):
    api = w.api
    base = f"/participants/{w.mentee}/outcomes/employment"
    api.post(base, {**JOB, "wage": "9999999.99", "wage_unit": "annual"})
    api.post(base, {**JOB, "wage": "0.01", "employer": "Penny Co"})


def test_the_evaluation_view_and_the_quarterly_report_still_work_after_a_huge_wage(
    w: World, client, auth
):
    api = w.api
    path = f"{api.base}/participants/{w.mentee}/outcomes/employment"
    for wage in ("1E+200000", "1E+308", 10**30):
        r = client.post(path, json={**JOB, "wage": wage}, headers=api.headers())
        problem(r, 422, "invalid_wage")
    done = api.post(f"/participants/{w.mentee}/outcomes/employment", JOB)
    rows = api.view("/outcomes", done["position"], kind="employment")["items"]
    assert [(r["employer"], r["wage"]) for r in rows] == [("Tri-County Logistics", "18.50")]
    projector.drain(api.db, f"g_{api.slug}")
    r = client.get(
        f"{api.base}/reports/quarterly/2026Q4", headers=auth("federal_oversight", api.slug)
    )
    assert r.status_code == 200, r.text
    assert "2026Q4" in r.text


def test_a_number_outside_its_declared_range_names_the_field_and_the_range(w: World, client):
    api = w.api
    path = f"{api.base}/participants/{w.mentee}/outcomes/employment"
    for hours in (-1, 0, 81, 1e308):
        r = client.post(path, json={**JOB, "hours_per_week": hours}, headers=api.headers())
        body = problem(r, 400, "invalid_request")
        assert "hours_per_week" in body["detail"], body
        assert "more than 0 and at most 80" in body["detail"], body
        (entry,) = body["errors"]
        assert (entry["field"], entry["minimum"], entry["maximum"]) == ("hours_per_week", 0, 80)


# -- control characters in parameters -------------------------------------------------------
@pytest.fixture(scope="module")
def spec_world(client, make_grantee) -> dict[str, Any]:
    return {"spec": client.get("/schema/openapi.json").json(), "slug": make_grantee()}


def _query_parameters(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    return [
        (method.upper(), template, item, p["name"])
        for template, ops in spec["paths"].items()
        if template.startswith("/v1/")
        for method, item in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
        for p in item.get("parameters", [])
        if p.get("in") == "query"
    ]


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\n", "\x1b[31m", "\x85"])
def test_a_control_character_in_any_query_parameter_is_a_400_naming_it(
    app, client, auth, spec_world, value
):
    spec, slug = spec_world["spec"], spec_world["slug"]
    actions = {(m, t): a for m, t, a in operations(app, spec)}
    params = _query_parameters(spec)
    assert len(params) > 100
    failures = []
    for method, template, item, name in params:
        action = actions[(method, template)]
        headers = allowed(auth, action, slug) if action else {}
        r = client.request(
            method, fill(template, item, slug), params={name: value}, headers=headers
        )
        if not (
            r.status_code == 400
            and r.headers["content-type"].startswith("application/problem+json")
            and r.json()["code"] == "invalid_parameter"
            and r.json()["errors"]
            == [{"message": "holds a control character", "key": name, "source": "query"}]
            and f"query parameter '{name}'" in r.json()["detail"]
        ):
            failures.append(f"{method} {template} {name}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_a_control_character_in_a_path_parameter_is_a_400_naming_it(app, client, auth, spec_world):
    spec, slug = spec_world["spec"], spec_world["slug"]
    failures = []
    checked = 0
    for method, template, action in operations(app, spec):
        item = spec["paths"][template][method.lower()]
        names = [
            p["name"]
            for p in item.get("parameters", [])
            if p.get("in") == "path" and p.get("schema", {}).get("format") != "uuid"
        ]
        if action is None or not template.startswith("/v1/"):
            continue
        for name in names:
            checked += 1
            path = fill(template.replace("{" + name + "}", "A%00B"), item, slug)
            r = client.request(method, path, headers=allowed(auth, action, slug))
            body = r.json() if r.status_code == 400 else {}
            if body.get("code") != "invalid_parameter" or f"'{name}'" not in body["detail"]:
                failures.append(f"{method} {template} {name}: {r.status_code} {r.text[:120]}")
    assert checked > 20
    assert not failures, "\n".join(failures)


def test_a_nul_in_a_search_or_cursor_leaves_the_list_working(client, auth, db, grantee, enrol):
    position = enrol()["position"]
    h = auth("coordinator", grantee)
    for params in ({"q": "\x00"}, {"cursor": "\x00"}, {"assigned_to": "Ann\x00"}):
        r = client.get(f"/v1/grantees/{grantee}/participants", params=params, headers=h)
        problem(r, 400, "invalid_parameter")
    projector.drain(db, f"g_{grantee}")
    r = client.get(
        f"/v1/grantees/{grantee}/participants",
        params={"q": "Ann", "min_position": position},
        headers=h,
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 1, r.text


# -- malformed JSON -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "line", "column", "byte"),
    [
        (b'{"employer": "A",\n "wage": }', 2, 10, 27),
        (b'{"a": 1,\n "Caf\xc3\xa9" 1}', 2, 9, 18),
        (b'{"employer": "A"', 1, 17, 16),
        (b"[1, 2", 1, 6, 5),
        (b'{"a": 1} x', 1, 10, 9),
    ],
)
def test_malformed_json_says_where_it_broke(w: World, client, raw, line, column, byte):
    api = w.api
    before = api.events()
    r = client.post(
        f"{api.base}/participants/{w.mentee}/outcomes/employment",
        content=raw,
        headers={**api.headers(), "content-type": "application/json"},
    )
    body = problem(r, 400, "invalid_request")
    where = f"line {line}, column {column} (byte {byte})"
    assert body["detail"].startswith("the body is not valid JSON: ") and where in body["detail"]
    (entry,) = body["errors"]
    assert (entry["line"], entry["column"], entry["byte"]) == (line, column, byte)
    assert api.events() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"employer": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"employer": "A", "wage": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}",
        b"[" * 60_000,
    ],
)
def test_json_nested_past_any_use_is_a_400_not_a_crash(w: World, client, raw):
    """A body nested thousands deep (2 KB suffices) is refused in words; the log is unchanged."""
    api = w.api
    before = api.events()
    for path in (f"/participants/{w.mentee}/outcomes/employment", "/participants"):
        r = client.post(
            api.base + path,
            content=raw,
            headers={**api.headers(), "content-type": "application/json"},
        )
        body = problem(r, 400, "invalid_request")
        assert "nested" in body["detail"], body
    assert api.events() == before


def test_no_body_taking_operation_answers_500_to_json_nested_thousands_deep(
    app, client, auth, spec_world
):
    """Every POST, PUT and PATCH of the API, sent 2 KB of `[`: never a 500."""
    spec, slug = spec_world["spec"], spec_world["slug"]
    sent = 0
    failures = []
    for method, template, action in operations(app, spec):
        if method not in ("POST", "PUT", "PATCH") or not template.startswith("/v1/"):
            continue
        item = spec["paths"][template][method.lower()]
        headers = allowed(auth, action, slug) if action else {}
        r = client.request(
            method,
            fill(template, item, slug),
            content=b"[" * 1000 + b"]" * 1000,
            headers={**headers, "content-type": "application/json"},
        )
        sent += 1
        # An operation that takes no body ignores it (and may succeed).
        if r.status_code >= 500 or (
            r.status_code >= 400
            and not r.headers["content-type"].startswith("application/problem+json")
        ):
            failures.append(f"{method} {template}: {r.status_code} {r.text[:120]}")
    assert sent > 50
    assert not failures, "\n".join(failures)


# -- how much of a refused value comes back --------------------------------------------------
LONG = "Z" * 3000


def test_shown_quotes_at_most_40_characters():
    assert shown("abc") == "'abc'"
    assert shown("a\x00b") == "'a\\x00b'"
    assert shown("Z" * 41) == f"'{'Z' * 40}'… (41 characters)"


def test_no_refusal_of_a_parameter_echoes_more_than_40_characters_of_it(
    app, client, auth, spec_world
):
    spec, slug = spec_world["spec"], spec_world["slug"]
    actions = {(m, t): a for m, t, a in operations(app, spec)}
    failures = []
    for method, template, item, name in _query_parameters(spec):
        action = actions[(method, template)]
        headers = allowed(auth, action, slug) if action else {}
        r = client.request(method, fill(template, item, slug), params={name: LONG}, headers=headers)
        if "Z" * 41 in r.text or r.status_code >= 500:
            failures.append(f"{method} {template} ?{name}: {r.status_code} {len(r.text)}")
    for method, template, action in operations(app, spec):
        item = spec["paths"][template][method.lower()]
        if action is None or not template.startswith("/v1/"):
            continue
        for p in item.get("parameters", []):
            if p.get("in") != "path":
                continue
            path = fill(template.replace("{" + p["name"] + "}", LONG), item, slug)
            r = client.request(method, path, headers=allowed(auth, action, slug))
            if "Z" * 41 in r.text or r.status_code >= 500:
                failures.append(f"{method} {template} {p['name']}: {r.status_code} {len(r.text)}")
    r = client.get(
        f"/v1/grantees/{slug}/participants", params={LONG: "1"}, headers=auth("coordinator", slug)
    )
    if "Z" * 41 in r.text:
        failures.append(f"unknown parameter name: {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_no_refusal_of_a_body_echoes_more_than_40_characters_of_a_value(w: World, client):
    api = w.api
    path = f"{api.base}/participants/{w.mentee}/outcomes/employment"
    for bad in ({"wage_unit": LONG}, {"wage": LONG}, {"started_on": LONG}, {"wage_unit": 7}):
        r = client.post(path, json={**JOB, **bad}, headers=api.headers())
        assert r.status_code in (400, 422), r.text
        assert "Z" * 41 not in r.text, r.text[:300]
    r = client.post(path, json={**JOB, "wage_unit": LONG}, headers=api.headers())
    assert f"wage_unit: '{'Z' * 40}'… (3000 characters) is not one of" in r.json()["detail"]


# -- quarters: one range of years ----------------------------------------------------------
@pytest.mark.parametrize("quarter", ["99999Q1", "2201Q1", "1899Q4", "9999Q4", "0000Q1"])
def test_a_quarter_outside_1900_to_2200_is_a_400_for_reports_and_exports(
    client, auth, grantee, quarter
):
    base = f"/v1/grantees/{grantee}"
    for method, path, role in (
        ("GET", f"{base}/reports/quarterly/{quarter}", "federal_oversight"),
        ("GET", f"/v1/reports/quarterly/{quarter}", "federal_oversight"),
        ("GET", f"{base}/exports/pirl/{quarter}", "coordinator"),
        ("POST", f"{base}/exports/pirl/{quarter}", "coordinator"),
    ):
        r = client.request(method, path, headers=auth(role, grantee))
        body = problem(r, 400, "invalid_quarter")
        assert "from 1900Q1 to 2200Q4" in body["detail"], (path, body)


def test_the_first_quarter_of_the_range_is_reported(client, auth, grantee):
    r = client.get(
        f"/v1/grantees/{grantee}/reports/quarterly/1900Q1",
        headers=auth("federal_oversight", grantee),
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("quarter", ["99999Q1", "2201Q1", "9999Q4"])
def test_the_export_command_exits_2_on_a_quarter_outside_the_range(
    settings, grantee, capsys, quarter
):
    args = argparse.Namespace(grantee=grantee, quarter=quarter, output=None)
    assert cmd_export(args, settings) == 2
    err = capsys.readouterr().err
    assert "from 1900Q1 to 2200Q4" in err and "Traceback" not in err


# -- page sizes -----------------------------------------------------------------------------
# The two reads a machine takes whole, with their own bounds (docs/api.md, "Lists: filters,
# search, sort, pages").
WHOLE_READS = {
    "/v1/grantees/{grantee}/audit/events": (10_000, 1000),
    "/v1/grantees/{grantee}/reports/quarterly/{quarter}/figures/{figure}": (5000, 1000),
}


def test_every_list_takes_a_limit_from_1_to_500_and_100_by_default(spec_world):
    lists = [
        (template, p["schema"])
        for _, template, item, name in _query_parameters(spec_world["spec"])
        if name == "limit"
        for p in item["parameters"]
        if p["name"] == "limit"
    ]
    assert len(lists) > 30
    odd = [
        f"{t}: {s.get('minimum')}-{s.get('maximum')}, default {s.get('default')}"
        for t, s in lists
        if (s.get("minimum"), s.get("maximum"), s.get("default"))
        != (1, *WHOLE_READS.get(t, (500, 100)))
    ]
    assert not odd, "\n".join(odd)


@pytest.mark.parametrize("limit", [10**9, -1, 0, 501, "ten"])
def test_a_limit_outside_1_to_500_is_a_400_naming_it(client, auth, grantee, limit):
    r = client.get(
        f"/v1/grantees/{grantee}/participants",
        params={"limit": limit},
        headers=auth("coordinator", grantee),
    )
    body = problem(r, 400, "invalid_request")
    assert body["detail"].startswith(f"query parameter 'limit' = '{limit}': Expected `int`")
    assert body["errors"][0]["key"] == "limit"
