"""Telegram → :class:`Snapshot`: per-municipality statuses of the configured prefecture, with severities."""

from __future__ import annotations

from pushsvc.alerts.levels import product, severity_for
from pushsvc.feeds.jma.areas import AreaResolver
from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.flood import FloodForecastTelegram
from pushsvc.feeds.jma.quake import QuakeTelegram, intensity_ja, intensity_rank
from pushsvc.feeds.jma.records import AreaStatus, Category, Snapshot
from pushsvc.feeds.jma.tsunami import TsunamiTelegram, forecast_detail
from pushsvc.feeds.jma.warnings import LandslideTelegram, WeatherWarningTelegram
from pushsvc.types import Severity

TSUNAMI_EN = {
    1: "Tsunami forecast (slight sea-level change)",
    2: "Tsunami advisory",
    3: "Tsunami warning",
    4: "Major tsunami warning",
}
# 大津波警報・津波警報: leave the coast now (emergency); 津波注意報: out of the water (warning). A 津波予報
# (若干の海面変動) needs no action: it is not a status, so going down to it is the 注意報's 解除.
TSUNAMI_SEVERITY: dict[int, Severity] = {2: "warning", 3: "emergency", 4: "emergency"}


def quake_severity(rank: int) -> Severity:
    """震度1–3 info, 4 advisory, 5弱/5強 warning, 6弱 and above emergency."""
    return "info" if rank <= 3 else "advisory" if rank == 4 else "warning" if rank <= 6 else "emergency"


def event_key(t: Telegram) -> str:
    """EventID, or a stable key when JMA leaves it empty (気象警報), so a 取消 can still find its alerts."""
    return t.head.event_id or f"{t.control.editorial_office}/{t.head.info_kind}"


def weather_kind_en(name: str) -> str:
    return product(name).name_en


def _status(
    n03: str,
    topic: str,
    category: Category,
    name: str,
    en: str,
    code: str,
    rank: int,
    severity: Severity,
    detail_ja: str = "",
    detail_en: str = "",
    level: int | None = None,
) -> AreaStatus:
    return AreaStatus(n03, topic, category, name, en, code, rank, severity, detail_ja, detail_en, level)


def _weather(t: WeatherWarningTelegram, r: AreaResolver) -> Snapshot:
    best: dict[tuple[str, str], AreaStatus] = {}
    covered: set[str] = set()
    for area in t.municipalities:
        n03 = r.municipality(area.code)
        if n03 is None:
            continue
        covered.add(n03)
        for k in area.kinds:
            if k.level == 0 or (t.scope is not None and k.family not in t.scope):
                continue
            topic = f"weather:{k.family}"
            row = product(k.name)  # the level table decides level and severity
            st = _status(n03, topic, "weather", k.name, row.name_en, k.code, k.level, row.severity, level=row.level)
            if (n03, topic) not in best or best[(n03, topic)].rank < st.rank:
                best[(n03, topic)] = st
    topics = None if t.scope is None else frozenset(f"weather:{f}" for f in t.scope)
    return Snapshot(t, event_key(t), tuple(best.values()), frozenset(covered), "weather:", topics)


def _landslide(t: LandslideTelegram, r: AreaResolver) -> Snapshot:
    statuses, covered = [], set()
    for area in t.areas:
        n03 = r.municipality(area.code)
        if n03 is None:
            continue
        covered.add(n03)
        if any(k.code == "3" and k.status != "解除" for k in area.kinds):
            row = product("土砂災害警戒情報")
            statuses.append(
                _status(n03, "landslide", "landslide", row.name_ja, row.name_en, "3", 2, row.severity, level=row.level)
            )
    return Snapshot(t, event_key(t), tuple(statuses), frozenset(covered), "landslide")


def _river(t: FloodForecastTelegram, r: AreaResolver) -> Snapshot:
    topic = f"river:{t.forecast_area[0] or t.forecast_area[1]}"
    river = "・".join(name for _, name in t.rivers) or t.forecast_area[1]
    statuses: dict[str, AreaStatus] = {}
    if t.level:
        detail = t.main_text[0] if t.main_text else t.head.headline
        for fa in t.flood_areas:
            n03 = r.municipality(fa.city_code)
            if n03:
                statuses[n03] = _status(
                    n03,
                    topic,
                    "river",
                    t.kind_name or t.head.title,
                    f"Flood forecast level {t.level} for {river}",
                    t.kind_code,
                    t.level,
                    severity_for(t.level),
                    detail,
                    f"River {river}: flood forecast level {t.level}.",
                    level=t.level,
                )
    return Snapshot(t, event_key(t), tuple(statuses.values()), None, "river:", frozenset({topic}))


def _quake(t: QuakeTelegram, r: AreaResolver) -> Snapshot:
    topic = f"quake:{event_key(t)}"
    cities = [(r.resolve(i.code), i.max_int) for i in t.intensities if i.level == "city"]
    areas = [(r.quake_area(i.code), i.max_int) for i in t.intensities if i.level == "area"]
    best: dict[str, str] = {}
    for codes, value in cities if any(c for c, _ in cities) else areas:
        for n03 in codes:
            if intensity_rank(value) > intensity_rank(best.get(n03, "")):
                best[n03] = value
    hypo = t.hypocentre.name if t.hypocentre else ""
    mag = f"M{t.magnitude:.1f}" if t.magnitude is not None else ""
    statuses = tuple(
        _status(
            n03,
            topic,
            "quake_tsunami",
            intensity_ja(v),
            f"Earthquake, seismic intensity {v}",
            v,
            intensity_rank(v),
            quake_severity(intensity_rank(v)),
            f"震源 {hypo} {mag}".strip(),
            f"Epicentre {hypo} {mag}".strip(),
        )
        for n03, v in sorted(best.items())
        if intensity_rank(v) > 0
    )
    return Snapshot(t, event_key(t), statuses, None, "")


def _tsunami(t: TsunamiTelegram, r: AreaResolver) -> Snapshot | None:
    if t.info_only:
        return None  # 津波情報 adds arrival and height to what is in force; it changes nothing (service.py)
    statuses: dict[str, AreaStatus] = {}
    for f in t.forecasts:
        if f.level < 2:
            continue
        detail_ja, detail_en = forecast_detail(f)
        for n03 in r.tsunami_area(f.area_code):
            if n03 not in statuses or statuses[n03].rank < f.level:
                statuses[n03] = AreaStatus(
                    n03,
                    "tsunami",
                    "quake_tsunami",
                    f.kind_name,
                    TSUNAMI_EN[f.level],
                    f.kind_code,
                    f.level,
                    TSUNAMI_SEVERITY[f.level],
                    detail_ja,
                    detail_en,
                    area_name=f.area_name,
                )
    return Snapshot(t, event_key(t), tuple(statuses.values()), None, "tsunami")


def snapshot(t: Telegram, resolver: AreaResolver) -> Snapshot | None:
    """The statuses a telegram sets in the resolver's prefecture; ``None`` for kinds we do not notify."""
    if isinstance(t, WeatherWarningTelegram):
        return _weather(t, resolver)
    if isinstance(t, LandslideTelegram):
        return _landslide(t, resolver)
    if isinstance(t, FloodForecastTelegram):
        return _river(t, resolver)
    if isinstance(t, QuakeTelegram):
        return _quake(t, resolver)
    if isinstance(t, TsunamiTelegram):
        return _tsunami(t, resolver)
    return None
