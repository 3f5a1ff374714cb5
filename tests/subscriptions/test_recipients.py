"""Who receives an alert: the targeting delivery (issue 4) builds on, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from shapely.geometry import Point, box
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.subscriptions import service, training
from pushsvc.subscriptions.models import Subscription
from pushsvc.subscriptions.schemas import SubscriptionIn
from tests.subscriptions.conftest import ASHIZURI_CAPE, KOCHI_PREF_OFFICE, MUROTO_CAPE, subscription_body

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def _point(label: str, where: tuple[float, float]) -> dict[str, Any]:
    return {"label": label, "lat": where[0], "lon": where[1]}


def _add(session: Session, settings: Settings, *, test_device: bool = False, **overrides: Any) -> int:
    sub, _ = service.subscribe(session, SubscriptionIn(**subscription_body(**overrides)), settings=settings, now=NOW)
    if test_device:
        code = training.issue(session, issued_by="test", label="", now=NOW).code
        training.redeem(session, session.get(Subscription, sub.id), code, now=NOW)  # type: ignore[arg-type]
    return sub.id


def _find(session: Session, **kw: Any) -> list[int]:
    kw.setdefault("category", "evacuation")
    kw.setdefault("now", NOW)
    return service.find_recipients(session, **kw)


def test_by_municipality_each_subscription_once(session: Session, settings: Settings) -> None:
    both = _add(
        session,
        settings,
        places=[
            _point("自宅", KOCHI_PREF_OFFICE),
            {"label": "職場", "municipality_code": "39201"},
            _point("実家", MUROTO_CAPE),
        ],
    )
    muroto = _add(session, settings, places=[_point("自宅", MUROTO_CAPE)])
    _add(session, settings, places=[_point("自宅", ASHIZURI_CAPE)])
    assert _find(session, municipality_codes=["39201", "39202"]) == sorted([both, muroto])
    assert _find(session, municipality_codes=["39201"]) == [both]
    assert _find(session, municipality_codes=[]) == []


def test_category_opt_in_is_respected(session: Session, settings: Settings) -> None:
    river = _add(session, settings, categories=["river"])
    everything = _add(session, settings)
    assert _find(session, municipality_codes=["39201"], category="river") == sorted([river, everything])
    assert _find(session, municipality_codes=["39201"], category="landslide") == [everything]


def test_area_reaches_points_in_it_and_whole_municipalities_it_touches(session: Session, settings: Settings) -> None:
    near_office = _add(session, settings, places=[_point("自宅", KOCHI_PREF_OFFICE)])
    whole_city = _add(session, settings, places=[{"label": "市内", "municipality_code": "39201"}])
    _add(session, settings, places=[_point("自宅", (33.52, 133.48))])  # in 高知市, outside the box
    _add(session, settings, places=[_point("自宅", MUROTO_CAPE)])
    area = box(133.52, 33.55, 133.54, 33.57)  # ~2 km around the prefectural office
    assert _find(session, area=area) == sorted([near_office, whole_city])
    assert _find(session, area=Point(134.177, 33.245).buffer(0.01), municipality_codes=["39201"]) == sorted(
        _find(session, municipality_codes=["39201"]) + _find(session, municipality_codes=["39202"])
    )


def test_current_location_counts_until_it_expires(session: Session, settings: Settings) -> None:
    visitor = _add(
        session,
        settings,
        places=[],
        follow_current_location=True,
        current_location={"lat": MUROTO_CAPE[0], "lon": MUROTO_CAPE[1]},
    )
    assert _find(session, municipality_codes=["39202"]) == [visitor]
    assert _find(session, area=Point(MUROTO_CAPE[1], MUROTO_CAPE[0]).buffer(0.01)) == [visitor]
    later = NOW + timedelta(hours=settings.current_location_ttl_hours, minutes=1)
    assert _find(session, municipality_codes=["39202"], now=later) == []
    assert _find(session, area=Point(MUROTO_CAPE[1], MUROTO_CAPE[0]).buffer(0.01), now=later) == []
    assert service.purge_expired_locations(session, now=later) == 1


def test_test_only_reaches_test_devices_only(session: Session, settings: Settings) -> None:
    tester = _add(session, settings, test_device=True)
    _add(session, settings)
    assert _find(session, municipality_codes=["39201"], test_only=True) == [tester]


def test_unknown_category_is_an_error_not_silence(session: Session, settings: Settings) -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown category"):
        _find(session, municipality_codes=["39201"], category="evacuaton")


def test_counts_by_municipality_and_language(session: Session, settings: Settings) -> None:
    _add(session, settings, lang="en", places=[_point("a", KOCHI_PREF_OFFICE), _point("b", MUROTO_CAPE)])
    _add(session, settings, lang="ja", places=[_point("a", MUROTO_CAPE)])
    _add(
        session,
        settings,
        lang="ja",
        places=[_point("a", KOCHI_PREF_OFFICE), {"label": "b", "municipality_code": "39201"}],
    )
    counts = service.count_recipients_by(session, municipality_codes=["39201", "39202"], category="river", now=NOW)
    assert counts == {"total": 3, "by_municipality": {"39201": 2, "39202": 2}, "by_lang": {"en": 1, "ja": 2}}


def test_push_targets_and_delete(session: Session, settings: Settings) -> None:
    body = subscription_body(quiet_hours={"start": "22:00", "end": "06:00"}, lang="en")
    sub, _ = service.subscribe(session, SubscriptionIn(**body), settings=settings, now=NOW)
    [target] = service.get_push_targets(session, [sub.id, 999_999])
    assert (target.endpoint, target.p256dh, target.auth, target.lang) == (
        body["endpoint"],
        body["keys"]["p256dh"],
        body["keys"]["auth"],
        "en",
    )
    assert (target.quiet_start, target.quiet_end) == (time(22, 0), time(6, 0))
    assert service.delete_subscription(session, sub.id) is True
    assert service.get_push_targets(session, [sub.id]) == []
    assert _find(session, municipality_codes=["39201"]) == []
    assert service.delete_subscription(session, sub.id) is False
