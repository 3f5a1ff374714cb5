"""VAPID tokens: one per origin, reused while fresh, renewed well before they lapse."""

from __future__ import annotations

import asyncio
import json

import pytest

from pushsvc.dev.devpush import DevPush, vapid_check
from pushsvc.webpush.auth import JWT_LIFETIME_S, RENEW_WHEN_LEFT_S, VapidSigner, origin_of
from pushsvc.webpush.sender import Outcome
from pushsvc.webpush.vapid import VapidIdentity, b64url_decode
from tests.webpush.conftest import SUBJECT, make_sender, target


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def claims(header: str) -> dict[str, object]:
    token = header.split("t=", 1)[1].split(",", 1)[0]
    result: dict[str, object] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def test_token_is_reused_within_its_life_and_renewed_before_expiry(identity: VapidIdentity) -> None:
    clock = Clock(1_800_000_000.0)
    signer = VapidSigner(identity, SUBJECT, clock=clock)
    first = signer.authorization("https://fcm.googleapis.com/fcm/send/a")

    clock.now += JWT_LIFETIME_S - RENEW_WHEN_LEFT_S - 1
    assert signer.authorization("https://fcm.googleapis.com/fcm/send/b") == first

    clock.now += 2
    renewed = signer.authorization("https://fcm.googleapis.com/fcm/send/c")
    assert renewed != first
    assert claims(renewed)["exp"] == int(clock.now) + JWT_LIFETIME_S
    assert signer.signed == 2


def test_claims_are_aud_origin_12h_exp_and_real_sub(identity: VapidIdentity) -> None:
    clock = Clock(1_800_000_000.0)
    header = VapidSigner(identity, SUBJECT, clock=clock).authorization("https://web.push.apple.com:443/QGx/abc?x=1")

    assert header.startswith("vapid t=") and header.endswith(f", k={identity.public_key_b64url}")
    assert claims(header) == {"aud": "https://web.push.apple.com", "exp": 1_800_000_000 + 12 * 3600, "sub": SUBJECT}
    vapid_check.verify(header, origin="https://web.push.apple.com", now=clock.now)


def test_each_origin_gets_its_own_token(identity: VapidIdentity) -> None:
    signer = VapidSigner(identity, SUBJECT)
    a = signer.authorization("https://fcm.googleapis.com/fcm/send/a")
    b = signer.authorization("https://updates.push.services.mozilla.com/wpush/v2/b")
    assert claims(a)["aud"] == "https://fcm.googleapis.com"
    assert claims(b)["aud"] == "https://updates.push.services.mozilla.com"


@pytest.mark.parametrize("subject", ["admin@pref.kochi.lg.jp", "http://pref.kochi.lg.jp"])
def test_a_subject_that_is_not_mailto_or_https_is_refused(identity: VapidIdentity, subject: str) -> None:
    with pytest.raises(ValueError):
        VapidSigner(identity, subject)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://FCM.googleapis.com/fcm/send/x", "https://fcm.googleapis.com"),
        ("https://a.push.apple.com:8443/x", "https://a.push.apple.com:8443"),
        ("http://127.0.0.1:8088/push/x", "http://127.0.0.1:8088"),
        ("http://[::1]:8088/push/x", "http://[::1]:8088"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_a_renewed_token_is_still_accepted_by_the_push_service(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()

    async def go() -> tuple[list[Outcome], int]:
        async with make_sender(identity) as sender:
            clock = Clock(sender.signer.clock())
            sender.signer.clock = clock
            outcomes = [(await sender.send(target(devpush, sub), b"x", ttl=60)).outcome]
            clock.now += JWT_LIFETIME_S - RENEW_WHEN_LEFT_S + 60  # still < 24 h ahead of the real clock
            outcomes.append((await sender.send(target(devpush, sub), b"x", ttl=60)).outcome)
            return outcomes, sender.signer.signed

    outcomes, signed = asyncio.run(go())
    assert outcomes == [Outcome.SENT, Outcome.SENT]
    assert signed == 2
