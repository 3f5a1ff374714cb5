"""KPI fixtures: the delivery harness (real app, local push service) for subscribe/notify, and operators."""

from tests.fixtures.delivery import Harness, harness
from tests.fixtures.devpush import devpush, devpush_server
from tests.fixtures.operators import Ops, ops

__all__ = ["Harness", "Ops", "devpush", "devpush_server", "harness", "ops"]
