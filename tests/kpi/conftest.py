"""KPI fixtures: the delivery harness (real app, local push service) for subscribe/notify, and operators."""

from tests.delivery.conftest import Harness, harness
from tests.portal.conftest import Ops, ops
from tests.webpush.conftest import devpush, devpush_server

__all__ = ["Harness", "Ops", "devpush", "devpush_server", "harness", "ops"]
