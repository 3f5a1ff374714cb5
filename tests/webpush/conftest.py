"""One local push service per test module, over real loopback HTTP; state is wiped between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pushsvc.devpush import DevPush, run_devpush
from pushsvc.devpush.state import Subscriber
from pushsvc.webpush.sender import PushSender, PushTarget
from pushsvc.webpush.transport import Limits
from pushsvc.webpush.vapid import VapidIdentity

SUBJECT = "mailto:bousai@pref.kochi.lg.jp"


@pytest.fixture(scope="session")
def identity() -> VapidIdentity:
    return VapidIdentity.generate()


@pytest.fixture(scope="module")
def devpush_server() -> Iterator[DevPush]:
    with run_devpush() as server:
        yield server


@pytest.fixture
def devpush(devpush_server: DevPush) -> Iterator[DevPush]:
    devpush_server.state.reset()
    devpush_server.state.mode = "full"
    yield devpush_server


def target(devpush: DevPush, sub: Subscriber) -> PushTarget:
    return PushTarget(devpush.endpoint(sub), sub.keys.p256dh, sub.keys.auth)


def make_sender(identity: VapidIdentity, **kwargs: object) -> PushSender:
    """Created inside the test's event loop (the pooled client binds to it)."""
    kwargs.setdefault("limits", Limits(timeout_s=2.0, connect_timeout_s=1.0, per_origin=16))
    kwargs.setdefault("allowed_hosts", ["127.0.0.1", "localhost"])
    return PushSender(identity, SUBJECT, **kwargs)  # type: ignore[arg-type]
