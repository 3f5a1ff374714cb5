"""The local push service checks what a real one checks, and tells tests exactly what arrived."""

from __future__ import annotations

import asyncio
import time

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushsvc.dev.devpush import DevPush, SubscriberKeys
from pushsvc.dev.devpush.runner import spawn_devpush
from pushsvc.dev.devpush.state import Subscriber
from pushsvc.webpush.auth import origin_of, sign_jwt
from pushsvc.webpush.sender import Outcome, PushTarget, encrypt
from pushsvc.webpush.vapid import VapidIdentity, b64url, b64url_decode
from tests.fixtures.devpush import SUBJECT, make_sender

TEXT = "高知市に津波警報が発表されました。直ちに高台へ避難してください。"


def headers(identity: VapidIdentity, claims: dict[str, object], **extra: str) -> dict[str, str]:
    token = sign_jwt(identity, claims)
    base = {
        "Authorization": f"vapid t={token}, k={identity.public_key_b64url}",
        "TTL": "60",
        "Content-Encoding": "aes128gcm",
    }
    return {**base, **extra}


def good_claims(devpush: DevPush, **overrides: object) -> dict[str, object]:
    return {"aud": origin_of(devpush.url), "exp": int(time.time()) + 3600, "sub": SUBJECT, **overrides}


def post(devpush: DevPush, sub: Subscriber, hdrs: dict[str, str], body: bytes | None = None) -> httpx.Response:
    if body is None:
        body = encrypt(PushTarget("", sub.keys.p256dh, sub.keys.auth), TEXT.encode())
    return httpx.post(devpush.endpoint(sub), headers=hdrs, content=body, timeout=5)


def test_subscribers_made_over_http_look_like_browser_subscriptions(devpush: DevPush) -> None:
    sub = httpx.post(f"{devpush.url}/control/subscribers", timeout=5).json()

    assert sub["endpoint"].startswith(f"{devpush.url}/push/")
    assert len(b64url_decode(sub["keys"]["p256dh"])) == 65
    assert len(b64url_decode(sub["keys"]["auth"])) == 16
    assert sub["expirationTime"] is None


@pytest.mark.parametrize("spec", [{"vapid_key": "AAAA"}, {"private_key": "!!", "auth": "AAAA"}])
def test_bad_subscriber_specs_are_422(devpush: DevPush, spec: dict[str, str]) -> None:
    assert httpx.post(f"{devpush.url}/control/subscribers", json=spec, timeout=5).status_code == 422


def test_exactly_the_four_targeted_devices_decrypt_the_text_once_each(
    devpush: DevPush, identity: VapidIdentity
) -> None:
    subs = [
        httpx.post(
            f"{devpush.url}/control/subscribers", json={"vapid_key": identity.public_key_b64url}, timeout=5
        ).json()
        for _ in range(5)
    ]
    targets = [PushTarget(s["endpoint"], s["keys"]["p256dh"], s["keys"]["auth"]) for s in subs[:4]]

    async def go() -> list[Outcome]:
        async with make_sender(identity) as sender:
            results = await asyncio.gather(*(sender.send(t, TEXT.encode(), ttl=600) for t in targets))
            return [r.outcome for r in results]

    assert asyncio.run(go()) == [Outcome.SENT] * 4
    for s, expected in zip(subs, [1, 1, 1, 1, 0], strict=True):
        got = httpx.get(f"{s['endpoint'].replace('/push/', '/control/subscribers/')}/messages", timeout=5).json()
        assert [m["payload"] for m in got] == [TEXT] * expected
    stats = httpx.get(f"{devpush.url}/control/stats", timeout=5).json()
    assert (stats["endpoints_reached"], stats["duplicates"], stats["counters"]["accepted"]) == (4, 0, 4)


def test_a_valid_message_is_accepted(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe(vapid_key=identity.public_key_b64url)
    resp = post(devpush, sub, headers(identity, good_claims(devpush), Urgency="low", Topic="abc"))
    assert resp.status_code == 201 and resp.headers["location"].startswith("/message/")
    [got] = devpush.received(sub)
    assert (got.text, got.ttl, got.urgency, got.topic) == (TEXT, 60, "low", "abc")


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"aud": "https://fcm.googleapis.com"}, 403),
        ({"exp": int(time.time()) - 10}, 403),
        ({"exp": int(time.time()) + 25 * 3600}, 403),
        ({"exp": "tomorrow"}, 403),
        ({"sub": "ops@pref.kochi.lg.jp"}, 403),
    ],
)
def test_bad_claims_are_forbidden(
    devpush: DevPush, identity: VapidIdentity, claims: dict[str, object], status: int
) -> None:
    sub = devpush.subscribe()
    assert post(devpush, sub, headers(identity, good_claims(devpush, **claims))).status_code == status
    assert devpush.received(sub) == []


def test_a_signature_by_another_key_is_forbidden(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    forged = headers(VapidIdentity.generate(), good_claims(devpush))
    forged["Authorization"] = forged["Authorization"].rsplit("k=", 1)[0] + f"k={identity.public_key_b64url}"
    assert post(devpush, sub, forged).status_code == 403


def test_a_key_other_than_the_subscribed_one_is_forbidden(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe(vapid_key=identity.public_key_b64url)
    assert post(devpush, sub, headers(VapidIdentity.generate(), good_claims(devpush))).status_code == 403


@pytest.mark.parametrize("auth", [None, "WebPush abc.def.ghi", "vapid t=abc", "vapid t=a.b.c, k=AAAA"])
def test_missing_or_malformed_authorization_is_unauthorized(
    devpush: DevPush, identity: VapidIdentity, auth: str | None
) -> None:
    sub = devpush.subscribe()
    hdrs = headers(identity, good_claims(devpush))
    del hdrs["Authorization"]
    if auth is not None:
        hdrs["Authorization"] = auth
    assert post(devpush, sub, hdrs).status_code == 401


def test_ttl_is_required(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    hdrs = headers(identity, good_claims(devpush))
    del hdrs["TTL"]
    assert post(devpush, sub, hdrs).status_code == 400


def test_unknown_subscriber_is_404_and_undecryptable_is_400(devpush: DevPush, identity: VapidIdentity) -> None:
    hdrs = headers(identity, good_claims(devpush))
    assert httpx.post(f"{devpush.url}/push/nobody", headers=hdrs, content=b"x" * 100, timeout=5).status_code == 404
    sub, other = devpush.subscribe(), devpush.subscribe()
    wrong = encrypt(PushTarget("", other.keys.p256dh, other.keys.auth), b"not for you")
    assert post(devpush, sub, hdrs, wrong).status_code == 400
    assert post(devpush, sub, hdrs, b"\0" * 5000).status_code == 413


def test_faults_over_the_control_api_apply_for_the_next_n_then_clear(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    fault_url = f"{devpush.url}/control/subscribers/{sub.id}/fault"
    httpx.put(fault_url, json={"status": 429, "retry_after": 7, "remaining": 2}, timeout=5).raise_for_status()
    hdrs = headers(identity, good_claims(devpush))

    answers = [post(devpush, sub, hdrs) for _ in range(3)]

    assert [r.status_code for r in answers] == [429, 429, 201]
    assert answers[0].headers["retry-after"] == "7"
    httpx.put(fault_url, json={"status": 410}, timeout=5).raise_for_status()
    assert post(devpush, sub, hdrs).status_code == 410
    httpx.delete(fault_url, timeout=5).raise_for_status()
    assert post(devpush, sub, hdrs).status_code == 201


def test_a_fault_for_star_applies_to_every_endpoint(devpush: DevPush, identity: VapidIdentity) -> None:
    a, b = devpush.subscribe(), devpush.subscribe()
    httpx.put(f"{devpush.url}/control/subscribers/*/fault", json={"status": 503}, timeout=5).raise_for_status()
    hdrs = headers(identity, good_claims(devpush))
    assert [post(devpush, s, hdrs).status_code for s in (a, b)] == [503, 503]


def test_count_mode_accepts_anything_and_counts_duplicates(devpush: DevPush) -> None:
    httpx.put(f"{devpush.url}/control/mode", json={"mode": "count"}, timeout=5).raise_for_status()
    with httpx.Client(timeout=5) as client:
        codes = [client.post(f"{devpush.url}/push/{i}", content=b"x" * 200).status_code for i in ["a", "b", "b"]]

    stats = httpx.get(f"{devpush.url}/control/stats", timeout=5).json()
    assert codes == [201, 201, 201]
    assert (stats["endpoints_reached"], stats["duplicates"], stats["counters"]["requests"]) == (2, 1, 3)
    assert stats["last_at"] >= stats["first_at"] > 0


def test_subscriber_keys_decrypt_without_any_http() -> None:
    keys = SubscriberKeys.generate()
    sender_key = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(
        TEXT.encode(),
        private_key=sender_key,
        dh=b64url_decode(keys.p256dh),
        auth_secret=keys.auth_secret,
        version="aes128gcm",
    )
    assert keys.decrypt(body).decode() == TEXT
    again = SubscriberKeys.from_b64url(keys.private_b64url, keys.auth)
    assert again.decrypt(body).decode() == TEXT and again.p256dh == keys.p256dh
    assert keys.subscription("http://x/push/1")["keys"] == {"p256dh": keys.p256dh, "auth": b64url(keys.auth_secret)}


def test_the_cli_command_serves_in_its_own_process() -> None:
    with spawn_devpush(mode="count") as url, httpx.Client(timeout=5) as client:
        assert client.post(f"{url}/push/abc", content=b"x").status_code == 201
        assert client.get(f"{url}/control/stats").json()["counters"]["accepted"] == 1


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Write raw bytes to the push service and read until it closes the connection."""
    host, port = url.removeprefix("http://").split(":")

    async def go() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer

    return asyncio.run(go())


def test_count_mode_answers_pipelined_requests_in_order_on_one_connection(devpush: DevPush) -> None:
    devpush.state.mode = "count"
    push = b"POST /push/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    stats = b"GET /control/stats HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"POST /push/c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    answer = _raw_exchange(devpush.url, push % b"a" + push % b"b" + stats + push % b"a" + last)

    assert answer.count(b"HTTP/1.1 201 Created") == 4
    assert answer.index(b"HTTP/1.1 200 OK") < answer.rindex(b"201 Created")  # in order, through the app
    assert b'"accepted":2' in answer  # the stats saw the two pushes before them, not the later ones
    stats_now = devpush.state.stats()
    assert (stats_now["endpoints_reached"], stats_now["duplicates"]) == (3, 1)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT HTTP\r\n\r\n",
        b"POST /push/a HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"POST /push/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ],
)
def test_malformed_requests_get_400_and_are_not_counted(devpush: DevPush, request_bytes: bytes) -> None:
    devpush.state.mode = "count"
    assert _raw_exchange(devpush.url, request_bytes).startswith(b"HTTP/1.1 400 ")
    assert devpush.state.stats()["counters"] == {}
