"""Request and response bodies, and the pure validators behind them (property-tested with hypothesis).

The validators raise ``ValueError`` so pydantic reports them as 422 naming the exact field
(``keys.p256dh``, ``places[2].label``); checks that need settings or the database live in the service.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, time
from typing import Annotated, Literal, get_args

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Header
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pushsvc.types import CATEGORIES, Category, Lang, Lat, Line, Lon
from pushsvc.webpush.vapid import b64url_decode

MAX_PLACES = 5
MAX_LABEL = 40
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# The lowest 震度 of an earthquake report a resident wants (緊急地震速報, tsunami and 南海トラフ always reach them).
MinIntensity = Literal["1", "2", "3", "4", "5弱", "5強"]
MIN_INTENSITIES: tuple[MinIntensity, ...] = get_args(MinIntensity)


def check_p256dh(text: str) -> str:
    """A browser's ECDH key: base64url (padding optional) of a 65-byte uncompressed point on P-256."""
    try:
        raw = b64url_decode(text)
    except ValueError as exc:
        raise ValueError("p256dh must be base64url") from exc
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError(f"p256dh must decode to a 65-byte uncompressed P-256 point, got {len(raw)} bytes")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise ValueError("p256dh is not a point on the P-256 curve") from exc
    return text.strip()


def check_auth(text: str) -> str:
    """The push auth secret: base64url (padding optional) of exactly 16 bytes."""
    try:
        raw = b64url_decode(text)
    except ValueError as exc:
        raise ValueError("auth must be base64url") from exc
    if len(raw) != 16:
        raise ValueError(f"auth must decode to 16 bytes, got {len(raw)}")
    return text.strip()


def check_label(text: str) -> str:
    """A short place label ("自宅", "work"): printable, trimmed, 1–40 characters."""
    label = unicodedata.normalize("NFC", text).strip()
    if not label:
        raise ValueError("label must not be empty")
    if len(label) > MAX_LABEL:
        raise ValueError(f"label must be at most {MAX_LABEL} characters")
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in label):
        raise ValueError("label must not contain control or unassigned characters")
    return label


def parse_hhmm(text: str) -> time:
    """'22:00' → time(22, 0); anything but a 24-hour HH:MM is refused."""
    if not isinstance(text, str) or not _HHMM.match(text):
        raise ValueError("time must be HH:MM (24-hour), e.g. 22:00")
    return time(int(text[:2]), int(text[3:]))


def round_coord(value: float) -> float:
    """Stored precision: 0.001° (~100 m), enough to target an area, too coarse to find a house."""
    if not math.isfinite(value):
        raise ValueError("coordinate must be finite")
    return round(value, 3)


class Keys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: Annotated[str, AfterValidator(check_p256dh)] = Field(
        max_length=128,
        examples=["BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"],
    )
    auth: Annotated[str, AfterValidator(check_auth)] = Field(max_length=64, examples=["tBHItJI5svbpez7KI4CCXg"])


class PlaceIn(BaseModel):
    """A registered place: either a point (lat, lon) or a whole municipality (municipality_code)."""

    model_config = ConfigDict(extra="forbid")
    label: Annotated[Line, AfterValidator(check_label)] = Field(max_length=200, examples=["自宅"])
    lat: Lat | None = None
    lon: Lon | None = None
    municipality_code: str | None = Field(default=None, pattern=r"^\d{5}$", examples=["39201"])


class QuietHours(BaseModel):
    """Hours in which only warnings and emergencies make the phone ring (Japan time)."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(examples=["22:00"])
    end: str = Field(examples=["06:00"])

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Lat
    lon: Lon
    accuracy_m: float | None = Field(
        default=None, ge=0, le=100_000, allow_inf_nan=False, description="reported by the Geolocation API; not stored"
    )


ResidentAuthorization = Annotated[str | None, Header(description="Bearer <token> returned when subscribing")]
"""The resident's token header, on the routes of this domain and the portal alike."""

Endpoint = Annotated[str, Field(max_length=2048, description="push-service URL from PushSubscription.endpoint")]
"""Checked, and put in its canonical form, by ``webpush.hosts.canonical_endpoint`` (it needs the allowlist)."""


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: Endpoint
    keys: Keys
    places: list[PlaceIn] = Field(default_factory=list, max_length=MAX_PLACES)
    follow_current_location: bool = False
    current_location: LocationIn | None = Field(
        default=None, description="optional first current location (needs follow_current_location)"
    )
    categories: list[Category] = Field(default_factory=lambda: list(CATEGORIES))
    lang: Lang = "ja"
    quiet_hours: QuietHours | None = None
    # No test_device here: a phone becomes a training device only by an operator's one-time enrolment link
    # (subscriptions/training.py), so nobody can make themselves a recipient of test messages.
    min_intensity: MinIntensity = Field(default="3", description="earthquake reports from this 震度 up")


class SubscriptionPatch(BaseModel):
    """Only the fields given change; ``places`` given replaces the whole list."""

    model_config = ConfigDict(extra="forbid")
    places: list[PlaceIn] | None = Field(default=None, max_length=MAX_PLACES)
    follow_current_location: bool | None = None
    categories: list[Category] | None = None
    lang: Lang | None = None
    quiet_hours: QuietHours | None = None
    min_intensity: MinIntensity | None = None
    endpoint: Endpoint | None = Field(
        default=None, description="a new push subscription of the same browser (pushsubscriptionchange); with keys"
    )
    keys: Keys | None = Field(default=None, description="the new subscription's keys; with endpoint")


class PlaceOut(BaseModel):
    label: str | None
    municipality_code: str
    municipality_name: str
    match: Literal["inside", "coastal", "code"] = Field(
        description="'code': given as a municipality; 'coastal': just off the coast of it"
    )
    lat: float | None = Field(description="as stored: rounded to 0.001°")
    lon: float | None


class CurrentLocationOut(PlaceOut):
    expires_at: datetime


class SubscriptionOut(BaseModel):
    """Everything stored about a subscription (except the token's hash): the resident's own data."""

    id: int
    endpoint: str
    keys: dict[str, str]
    places: list[PlaceOut]
    follow_current_location: bool
    current_location: CurrentLocationOut | None
    categories: list[str]
    lang: str
    quiet_hours: QuietHours | None
    test_device: bool = Field(description="a training device (訓練用端末), enrolled by an operator's one-time link")
    created_at: datetime
    updated_at: datetime
    min_intensity: MinIntensity = "3"


class SubscriptionCreated(SubscriptionOut):
    token: str = Field(description="shown once; send as 'Authorization: Bearer <token>' to manage this")


class VapidPublicKey(BaseModel):
    public_key: str = Field(description="base64url uncompressed P-256 point, the applicationServerKey")


class MunicipalityChoice(BaseModel):
    code: str
    name: str
    district: str | None


class Choices(BaseModel):
    """What the resident page offers: municipalities, categories, languages, limits."""

    municipalities: list[MunicipalityChoice]
    categories: list[str]
    languages: list[str]
    max_places: int
    current_location_ttl_hours: float
