"""Our RFC 8291 encryption: the RFC's own test vector, and http_ece (pywebpush's library) reads it."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushsvc.dev.devpush import SubscriberKeys
from pushsvc.webpush.ece import MAX_PLAINTEXT, encrypt, pywebpush_encrypt
from pushsvc.webpush.vapid import b64url, b64url_decode


def test_rfc8291_section5_example_is_reproduced_byte_for_byte() -> None:
    sender = ec.derive_private_key(
        int.from_bytes(b64url_decode("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"), "big"), ec.SECP256R1()
    )
    body = encrypt(
        b"When I grow up, I want to be a watermelon",
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "BTBZMqHH6r4Tts7J_aSIgg",
        salt=b64url_decode("DGv6ra1nlYgDCS1FRnbzlw"),
        sender_key=sender,
    )
    assert b64url(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6"
        "PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )


@pytest.mark.parametrize("size", [1, 41, 3000, MAX_PLAINTEXT])
def test_http_ece_decrypts_what_we_encrypt(size: int) -> None:
    keys = SubscriberKeys.generate()
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    body = encrypt(data, keys.p256dh, keys.auth)
    assert keys.decrypt(body) == data
    salt_rs_idlen = struct.unpack("!16sIB", body[:21])
    assert salt_rs_idlen[1:] == (4096, 65)


def test_each_message_has_its_own_salt_and_sender_key() -> None:
    keys = SubscriberKeys.generate()
    a, b = encrypt(b"same", keys.p256dh, keys.auth), encrypt(b"same", keys.p256dh, keys.auth)
    assert a[:16] != b[:16] and a[21:86] != b[21:86]


def test_pywebpush_reference_agrees() -> None:
    keys = SubscriberKeys.generate()
    assert keys.decrypt(pywebpush_encrypt("高知".encode(), keys.p256dh, keys.auth)) == "高知".encode()


@pytest.mark.parametrize(
    ("p256dh", "auth", "data"),
    [("AAAA", "BTBZMqHH6r4Tts7J_aSIgg", b"x"), (None, "AAAA", b"x"), (None, None, b"x" * (MAX_PLAINTEXT + 1))],
)
def test_bad_keys_or_oversize_data_raise_value_error(p256dh: str | None, auth: str | None, data: bytes) -> None:
    keys = SubscriberKeys.generate()
    with pytest.raises(ValueError):
        encrypt(data, p256dh or keys.p256dh, auth or keys.auth)
