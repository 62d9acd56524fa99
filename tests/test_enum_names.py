"""The names `x-enum-varnames` gives the members of colliding enumerations (services/api/
enum_names.py): distinct, identifiers, and kept as they are by the client generator."""

from __future__ import annotations

from zoneinfo import available_timezones

from openapi_python_client import strings

from services.api.enum_names import collide, member_name, member_names


def test_values_that_differ_only_by_case_or_punctuation_collide() -> None:
    assert collide(["Etc/GMT+1", "Etc/GMT-1"])
    assert collide(["Pending", "pending"])
    assert not collide(["America/Chicago", "America/New_York"])
    assert not collide([1, 2])


def test_every_time_zone_gets_a_distinct_name_the_generator_keeps() -> None:
    zones = sorted(available_timezones())
    names = member_names(zones)
    assert len(set(names)) == len(zones)
    for name in names:
        assert name.isidentifier() and name == name.upper()
        # The generator puts a name through its snake case: a name it changed could meet another.
        assert strings.snake_case(name).upper() == name
    assert member_name("Etc/GMT+5") == "ETC_GMT_PLUS_5"
    assert member_name("Etc/GMT-5") == "ETC_GMT_MINUS_5"
    assert member_name("America/Port-au-Prince") == "AMERICA_PORT_AU_PRINCE"


def test_names_that_still_meet_are_numbered_and_a_leading_digit_is_prefixed() -> None:
    assert member_names(["on-hold", "On Hold", "ON_HOLD"]) == ["ON_HOLD", "ON_HOLD_2", "ON_HOLD_3"]
    assert member_names(["24h", "+1"]) == ["VALUE_24H", "PLUS_1"]
