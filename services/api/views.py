"""The live build of a view, after a bounded read-your-writes wait (DESIGN D3): resolved by
services/projector/serving.py, whose refusals the API answers as problems; the queries
themselves live with their views (projections/query.py)."""

from __future__ import annotations

from services.projector.serving import live_tables as tables

__all__ = ["tables"]
