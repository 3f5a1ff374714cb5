"""Alerts as the public sees them: which municipalities an alert covers, its text, its order.

Alerts are delivery's non-test notifications, read only through ``delivery.service``. For the sources
whose alerts are kept as state (JMA, river gauges: ``STATEFUL_SOURCES``) what is in force is what
``pushsvc.alerts`` says is in force — each notification that announced a value still in force, covering
only the municipalities where it still holds, with when it was issued and last confirmed — never what
has not yet expired. Everything here is pure apart from the (cached) municipality geometries used for
area-targeted alerts and the per-process snapshot of the alerts in force (``in_force``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import service as alert_state
from pushsvc.alerts.schemas import AlertStateOut
from pushsvc.cache import Snapshot, detached
from pushsvc.config import Settings
from pushsvc.db import cache_key
from pushsvc.delivery import service as delivery
from pushsvc.delivery.service import Notification
from pushsvc.errors import NotFound, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.portal.schemas import (
    ATTRIBUTION_BY_SOURCE,
    CATEGORY_LABELS,
    HAZARDS_BY_CATEGORY,
    SEVERITY_LABELS,
    SEVERITY_RANK,
    AlertList,
    AlertOut,
    AlertPage,
    MunicipalityRef,
    text_in,
)
from pushsvc.shelters.schemas import HAZARDS, Hazard
from pushsvc.timeutil import as_utc as _utc

STATEFUL_SOURCES = frozenset({"jma", "river", "evacuation"})  # in force = the alert state, not the expiry
STATE_KEY = "_in_force"  # set on the shared detached copies only: issued/confirmed/stale/level from the state
GEOMS_TTL_S = 300.0
ALERTS_TTL_S = 1.0  # how stale an alert's delivery status may be; new and cancelled alerts show at once
RECENT_HOURS = 72  # the portal's "recent alerts" of a place


@dataclass(frozen=True)
class Area:
    """A municipality as the portal needs it: name, shape, and a point to measure distances from."""

    code: str
    name: str
    geom: BaseGeometry
    point: tuple[float, float]  # lat, lon of a representative point inside it


_lock = threading.Lock()
_areas: dict[str, tuple[float, dict[str, Area]]] = {}
_alert_codes: dict[tuple[str, int, str], tuple[str, ...]] = {}
_in_force: Snapshot[tuple[Notification, ...]] = Snapshot(ALERTS_TTL_S)
_recent: Snapshot[tuple[Notification, ...]] = Snapshot(ALERTS_TTL_S)


def areas(db_session: Session) -> dict[str, Area]:
    """Every municipality with its shape, cached per database for a few minutes."""
    key = cache_key(db_session)
    cached = _areas.get(key)
    if cached and time.monotonic() - cached[0] < GEOMS_TTL_S:
        return cached[1]
    with _lock:
        out: dict[str, Area] = {}
        for place, geom in geo_service.list_places_with_geoms(db_session):
            shapely.prepare(geom)
            rp = geom.representative_point()
            out[place.code] = Area(place.code, place.name, geom, (rp.y, rp.x))
        _areas[key] = (time.monotonic(), out)
        return out


def alert_codes(db_session: Session, n: Notification) -> tuple[str, ...]:
    """Municipalities an alert covers: its target codes plus those its target area touches."""
    if n.target_geom is None or n.target_geom.is_empty:
        return tuple(sorted(set(n.target_codes or [])))
    key = (cache_key(db_session), n.id, _utc(n.created_at).isoformat())
    hit = _alert_codes.get(key)
    if hit is not None:
        return hit
    codes = set(n.target_codes or [])
    codes.update(a.code for a in areas(db_session).values() if a.geom.intersects(n.target_geom))
    result = tuple(sorted(codes))
    if len(_alert_codes) > 10_000:
        _alert_codes.clear()
    _alert_codes[key] = result
    return result


def covers(db_session: Session, n: Notification, code: str, lat: float | None, lon: float | None) -> bool:
    """Whether the alert reaches a place: by municipality, or for an area alert by the point itself."""
    if code in (n.target_codes or []):
        return True
    if n.target_geom is None:
        return False
    if lat is not None and lon is not None:
        return bool(n.target_geom.intersects(Point(lon, lat)))
    return code in alert_codes(db_session, n)


def hazards(n: Notification) -> tuple[Hazard, ...]:
    """Evacuation-site designations that fit the alert (the source may name them in extra['hazards'])."""
    given = (n.extra or {}).get("hazards")
    if isinstance(given, list):
        return tuple(h for h in HAZARDS if h in given)
    return HAZARDS_BY_CATEGORY.get(n.category, ())


def order(alerts: Iterable[Notification]) -> list[Notification]:
    """Pinned first (南海トラフ地震臨時情報, while in force), then most severe, then newest."""
    return sorted(
        alerts,
        key=lambda n: (
            not (n.extra or {}).get("pinned"),
            -SEVERITY_RANK.get(n.severity, 0),
            -_utc(n.created_at).timestamp(),
            -n.id,
        ),
    )


def is_active(n: Notification, now: datetime) -> bool:
    if STATE_KEY in (n.extra or {}):
        return not n.test  # in the alert state's list: in force until its source says otherwise
    if n.source in STATEFUL_SOURCES:
        return False  # not (or no longer) announcing anything in force
    return not n.test and n.status != "cancelled" and _utc(n.expires_at) > _utc(now)


def alert_level(n: Notification) -> int | None:
    """The 警戒レベル (or 相当) its source recorded: ``extra['level']``, ``extra['alert_level']`` or one
    level down (``extra['river_alert']['alert_level']``, …)."""
    extra = n.extra or {}
    found = extra.get("level", extra.get("alert_level"))
    for value in extra.values():
        if found is None and isinstance(value, dict):
            found = value.get("alert_level")
    return found if isinstance(found, int) and 1 <= found <= 5 else None


def action(n: Notification, level: int | None, lang: str) -> str | None:
    """What to do, from the message catalogue: the level's action, or ただちに高台へ for a tsunami warning."""
    if not is_active_kind(n):
        return None
    jma = (n.extra or {}).get("jma") or {}
    if isinstance(jma, dict) and jma.get("topic") == "tsunami" and n.severity in ("warning", "emergency"):
        return i18n.text("tsunami.action", lang)
    return i18n.text(f"level.{level}.action", lang) if level is not None else None


def is_active_kind(n: Notification) -> bool:
    """An alert that says something is in force (not a 解除, 取消 or correction notice)."""
    jma = (n.extra or {}).get("jma") or {}
    return n.reference_id is None and not (isinstance(jma, dict) and jma.get("change") in ("lifted", "cancel"))


def page_url(settings: Settings, alert_id: int) -> str:
    return f"{settings.public_base_url.rstrip('/')}/alerts/{alert_id}"


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def to_out(
    db_session: Session,
    n: Notification,
    *,
    lang: str,
    settings: Settings,
    now: datetime,
    names: dict[str, str] | None = None,
    active: bool | None = None,
) -> AlertOut:
    codes = alert_codes(db_session, n)
    if names is None:
        names = {c: a.name for c, a in areas(db_session).items()}
    state = dict((n.extra or {}).get(STATE_KEY) or {})
    level = state.get("level") or alert_level(n)
    return AlertOut(
        id=n.id,
        source=n.source,
        category=n.category,
        severity=n.severity,
        status=n.status,
        active=is_active(n, now) if active is None else active,
        lang=lang if lang in n.title else "ja",
        title=text_in(n.title, lang),
        body=text_in(n.body or {}, lang),
        url=page_url(settings, n.id),
        municipalities=[MunicipalityRef(code=c, name=names.get(c, "")) for c in codes],
        created_at=_utc(n.created_at),
        expires_at=_utc(n.expires_at),
        attribution=ATTRIBUTION_BY_SOURCE.get(n.source),
        parameters={str(k): str(v) for k, v in ((n.extra or {}).get("cap_parameters") or {}).items()},
        level=level,
        issued_at=_when(state.get("issued_at")),
        confirmed_at=_when(state.get("confirmed_at")),
        stale=bool(state.get("stale", False)),
        action=action(n, level, lang),
    )


def check_municipality(db_session: Session, code: str | None) -> None:
    if code is not None and code not in areas(db_session):
        raise ValidationProblem(f"unknown municipality code {code!r}", field="municipality")


def _stateful(db_session: Session, nid: int, states: Sequence[AlertStateOut]) -> Notification | None:
    """The notification that announced these in-force alerts, covering only the areas where they hold."""
    try:
        n = detached(delivery.public_alert(db_session, nid))
    except NotFound:
        return None
    n.target_codes, n.target_geom = sorted({s.area for s in states}), None
    levels = [s.level for s in states if s.level is not None]
    n.extra = {
        **(n.extra or {}),
        STATE_KEY: {
            "issued_at": _utc(min(s.issued_at for s in states)).isoformat(),
            "confirmed_at": _utc(max(s.confirmed_at for s in states)).isoformat(),
            "stale": any(s.stale for s in states),
            "level": max(levels) if levels else None,
        },
    }
    return n


def _load_in_force(db_session: Session, now: datetime) -> tuple[Notification, ...]:
    plain = [detached(n) for n in delivery.active_alerts(db_session, now=now) if n.source not in STATEFUL_SOURCES]
    by_notification: dict[int, list[AlertStateOut]] = {}
    for a in alert_state.in_force(db_session, sources=None):
        if a.notification_id is not None:
            by_notification.setdefault(a.notification_id, []).append(a)
    stateful = [_stateful(db_session, nid, states) for nid, states in sorted(by_notification.items())]
    return (*plain, *(n for n in stateful if n is not None))


def in_force(db_session: Session, *, now: datetime, category: str | None = None) -> list[Notification]:
    """Alerts in force from this process's snapshot, checked against delivery's and the alert state's
    versions on every call. For read-only requests: the objects are shared, never change them."""
    version = (delivery.active_alerts_version(db_session), alert_state.version(db_session))
    everything = _in_force.get(db_session, version, lambda: _load_in_force(db_session, now))
    return [n for n in everything if is_active(n, now) and (category is None or n.category == category)]


def recent(db_session: Session, *, now: datetime) -> list[Notification]:
    """Public alerts of the last ``RECENT_HOURS`` whatever their state, newest first (shared objects)."""
    since = _utc(now) - timedelta(hours=RECENT_HOURS)
    everything = _recent.get(
        db_session,
        delivery.active_alerts_version(db_session),
        lambda: tuple(detached(n) for n in delivery.recent_alerts(db_session, since=since)),
    )
    return [n for n in everything if _utc(n.created_at) >= since]


def public_alerts(
    db_session: Session, *, municipality: str | None, category: str | None, now: datetime
) -> list[Notification]:
    """Active alerts, optionally of one municipality and category, most severe and newest first."""
    check_municipality(db_session, municipality)
    found = in_force(db_session, now=now, category=category)
    if municipality is not None:
        found = [n for n in found if municipality in alert_codes(db_session, n)]
    return order(found)


def alert_list(
    db_session: Session, found: Sequence[Notification], *, lang: str, settings: Settings, now: datetime
) -> AlertList:
    outs = [to_out(db_session, n, lang=lang, settings=settings, now=now) for n in found]
    credits = sorted({o.attribution for o in outs if o.attribution})
    return AlertList(alerts=outs, attribution=credits)


def alert_page(db_session: Session, alert_id: int, *, lang: str, settings: Settings, now: datetime) -> AlertPage:
    n = delivery.public_alert(db_session, alert_id)
    listed = (
        next((x for x in in_force(db_session, now=now) if x.id == n.id), None) if n.source in STATEFUL_SOURCES else None
    )
    out = to_out(
        db_session,
        listed or n,
        lang=lang,
        settings=settings,
        now=now,
        active=None if n.source not in STATEFUL_SOURCES else listed is not None,
    )
    langs = sorted(set(n.title) | set(n.body or {}), key=lambda x: (x != "ja", x))
    translations = {x: {"title": text_in(n.title, x), "body": text_in(n.body or {}, x)} for x in langs}
    base = settings.public_base_url.rstrip("/")
    return AlertPage(
        **out.model_dump(),
        translations=translations,
        category_label=text_in(CATEGORY_LABELS.get(n.category, {"ja": n.category}), lang),
        severity_label=text_in(SEVERITY_LABELS.get(n.severity, {"ja": n.severity}), lang),
        cap_url=f"{base}/api/v1/alerts/{n.id}.cap",
        references=n.reference_id,
        corrects=delivery.references_of(db_session, n.id) if n.reference_id is not None else [],
    )
