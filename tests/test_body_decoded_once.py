"""A JSON body is decoded once per request (issue 23, point 3): the Struct `strict_body`
decodes strictly is the one the handler receives, not a second decode of the same bytes."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Litestar, Request, post
from litestar.testing import TestClient

from services.api.strict import strict_body


class Counted(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    visits: int
    made: ClassVar[list[int]] = []

    def __post_init__(self) -> None:
        # msgspec runs this for every Struct it builds, by decoding or by converting a dict.
        Counted.made.append(self.visits)


@post("/echo", status_code=200)
async def echo(data: Counted) -> dict[str, Any]:
    return {"name": data.name, "visits": data.visits}


async def hook(request: Request[Any, Any, Any]) -> Any:
    return await strict_body(request)


def test_the_handler_receives_the_strictly_decoded_struct_without_a_second_decode() -> None:
    with TestClient(Litestar(route_handlers=[echo], before_request=hook)) as client:
        Counted.made.clear()
        r = client.post("/echo", json={"name": "Rosa", "visits": 3})
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "Rosa", "visits": 3}
        assert Counted.made == [3]  # one Struct built for the request
        # Still strict: a number sent as a string is refused before the handler.
        Counted.made.clear()
        r = client.post("/echo", json={"name": "Rosa", "visits": "3"})
        assert r.status_code == 400, r.text
        assert Counted.made == []
