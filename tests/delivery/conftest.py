"""Delivery fixtures: the real app, a real local push service, and workers run to completion."""

from tests.fixtures.delivery import ADMIN, KOCHI_KENCHO, MUROTO, SHIMANTO, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server

__all__ = ["ADMIN", "KOCHI_KENCHO", "MUROTO", "SHIMANTO", "Harness", "devpush", "devpush_server", "harness"]
