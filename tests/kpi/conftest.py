"""KPI fixtures: the delivery harness (real app, local push service) for subscribe/notify."""

from tests.delivery.conftest import Harness, harness
from tests.webpush.conftest import devpush, devpush_server

__all__ = ["Harness", "devpush", "devpush_server", "harness"]
