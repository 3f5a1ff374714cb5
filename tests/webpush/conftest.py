"""Web Push fixtures: the local push service and a VAPID identity (tests/fixtures/devpush.py)."""

from tests.fixtures.devpush import SUBJECT, devpush, devpush_server, identity, make_sender, target

__all__ = ["SUBJECT", "devpush", "devpush_server", "identity", "make_sender", "target"]
