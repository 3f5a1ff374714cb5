"""Property tests of the pure validators behind the subscription body (hypothesis)."""

from __future__ import annotations

import base64
import contextlib
import string
import unicodedata
from datetime import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from pushsvc.subscriptions.schemas import check_auth, check_label, check_p256dh, parse_hhmm, round_coord
from pushsvc.subscriptions.service import categories_of, category_mask
from pushsvc.types import CATEGORIES

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _b64(raw: bytes, padded: bool) -> str:
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


@given(scalar=st.integers(min_value=1, max_value=P256_ORDER - 1), padded=st.booleans())
def test_every_real_p256_public_key_is_accepted_padded_or_not(scalar: int, padded: bool) -> None:
    point = (
        ec.derive_private_key(scalar, ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    text = _b64(point, padded)
    assert check_p256dh(text) == text


@given(raw=st.binary(min_size=0, max_size=100), padded=st.booleans())
def test_p256dh_accepted_exactly_when_it_is_a_curve_point(raw: bytes, padded: bool) -> None:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        on_curve = len(raw) == 65
    except ValueError:
        on_curve = False
    if on_curve:
        check_p256dh(_b64(raw, padded))
    else:
        with pytest.raises(ValueError):
            check_p256dh(_b64(raw, padded))


@given(text=st.text(alphabet=string.printable + "あ+/", max_size=120))
def test_p256dh_never_raises_anything_but_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        check_p256dh(text)


@given(raw=st.binary(max_size=40), padded=st.booleans())
def test_auth_is_exactly_sixteen_bytes(raw: bytes, padded: bool) -> None:
    if len(raw) == 16:
        assert check_auth(_b64(raw, padded))
    else:
        with pytest.raises(ValueError):
            check_auth(_b64(raw, padded))


@given(text=st.text(max_size=80))
def test_accepted_labels_are_trimmed_short_printable_and_stable(text: str) -> None:
    trimmed = unicodedata.normalize("NFC", text).strip()
    bad_char = any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in trimmed)
    try:
        label = check_label(text)
    except ValueError:
        assert not trimmed or len(trimmed) > 40 or bad_char
        return
    assert 1 <= len(label) <= 40 and label == label.strip()
    assert not any(unicodedata.category(c) == "Cc" for c in label)
    assert check_label(label) == label


@given(h=st.integers(0, 23), m=st.integers(0, 59))
def test_every_clock_time_round_trips(h: int, m: int) -> None:
    assert parse_hhmm(f"{h:02d}:{m:02d}") == time(h, m)


@given(text=st.text(max_size=8))
def test_only_hh_mm_parses(text: str) -> None:
    try:
        parsed = parse_hhmm(text)
    except ValueError:
        return
    assert parsed.strftime("%H:%M") == text


@given(x=st.floats(min_value=-180, max_value=180, allow_nan=False))
def test_rounding_moves_a_coordinate_at_most_half_a_thousandth(x: float) -> None:
    r = round_coord(x)
    assert abs(r - x) <= 0.0005 + 1e-12 and round(r, 3) == r


@given(chosen=st.lists(st.sampled_from(CATEGORIES), unique=True))
def test_category_mask_round_trips_in_canonical_order(chosen: list[str]) -> None:
    assert categories_of(category_mask(chosen)) == [c for c in CATEGORIES if c in chosen]
