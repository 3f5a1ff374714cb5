"""Imports every domain's tables so Alembic and the tests see the whole schema."""

from pushsvc.geo.models import Municipality

__all__ = ["Municipality"]
