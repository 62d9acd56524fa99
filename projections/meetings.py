"""Views: meetings (being built)."""

from __future__ import annotations

from projections.base import Projection

VIEWS: tuple[Projection, ...] = ()
