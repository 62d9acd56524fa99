"""Signed chain heads collected outside the platform (`prowd verify --against FILE`).

A subscriber of the `audit.checkpoint` webhook keeps the messages it received; the file is
either a JSON array or one JSON object a line (NDJSON), each a whole webhook message
(`{"type": "audit.checkpoint", "data": {...}}`) or its `data` alone. Only the heads of the
grantee being verified count; each must carry a good signature by a published key, or the
file is refused (a head nobody signed proves nothing either way).
"""

from __future__ import annotations

import json
from typing import Any

from services.audit.checkpoints import message
from services.audit.keys import KeySet


def _items(text: str) -> list[Any]:
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def held_heads(text: str, schema: str, keys: KeySet) -> dict[int, bytes]:
    """The file's signed heads of `schema`, by position; ValueError for a malformed file or a
    head whose signature does not verify under the key set."""
    heads: dict[int, bytes] = {}
    try:
        for item in _items(text):
            data = item["data"] if item.get("type") == "audit.checkpoint" else item
            if data["schema"] != schema:
                continue
            position, digest = int(data["position"]), bytes.fromhex(data["hash"])
            key = keys.get(str(data["kid"]))
            if key is None or not key.verifies(
                bytes.fromhex(data["signature"]), message(schema, position, digest)
            ):
                raise ValueError(
                    f"the head at position {position} is not signed by a published key"
                )
            heads[position] = digest
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not a file of signed heads ({e})") from e
    return heads
