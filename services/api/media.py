"""A response's `Content-Type` exactly as given.

Litestar appends `; charset=utf-8` to every text media type it is handed, even one that names
its charset already: the metrics exposition's `text/plain; version=0.0.4; charset=utf-8` went
out with the charset twice, and a stored document's `text/plain; charset=iso-8859-1` would
have claimed two charsets. It leaves a `Content-Type` header the response already has alone.
"""

from __future__ import annotations


def exactly(content_type: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """`headers` with `Content-Type: content_type`, for a `Response` whose media type is that."""
    return {**(headers or {}), "Content-Type": content_type}
