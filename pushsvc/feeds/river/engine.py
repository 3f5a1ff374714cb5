"""The river alert engine: snapshot + per-station state in → alerts + new state out. Pure: no clock, no I/O.

Per station it keeps a small serialisable ``StationState`` (last trusted level, the highest stage alerted and
not yet re-armed, and at most one held suspect reading). Rules, all in ``AlertRules``:

- Alert when a trusted level reaches 避難判断 / 氾濫危険 / 氾濫発生 above the latched stage; one alert per
  reading, for the highest stage reached.
- Hysteresis: a stage re-arms only once the level is ``margin`` below its threshold; re-arming sends one
  "back below" message naming the highest stage re-armed. A gauge missing from a complete k.river
  snapshot has fallen below its start level and re-arms everything.
- Spikes (``SpikeRule``): an implausible reading is held, not alerted. The next reading confirms it if it is
  plausible measured from the held value; otherwise it is held in turn, and a fall discards it.
- Confirm before alerting: a reading that would raise an alert after a jump larger than this gauge can rise
  in one reading (``SpikeRule.jump_limit``: a share of its start→danger range, or more if its own trusted
  history has shown bigger jumps) is held until the next reading agrees; a fall discards it.
- Falls are believed at once when they are plausible. A gauge that vanishes from a complete k.river
  snapshot while well above its start level is "no data" (``Evaluation.no_data``, kept in
  ``StationState.missing_since``), not "water fell": nothing is said until it reappears, or until it has
  been gone long enough to have fallen to its start level at a plausible rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pushsvc.feeds.river.alerts import RiverAlert, fall_alert, rise_alert
from pushsvc.feeds.river.records import Reading, Snapshot, Stage, Station


@dataclass(frozen=True)
class SpikeRule:
    """When a reading is physically implausible, in units of the station's *span* (danger level minus its
    lowest lower threshold, at least ``min_span_m``), so one rule fits a 0.75 m brook and a 16 m river.

    - rise: more than ``max_rise_spans_per_hour`` spans per hour above the last trusted level (below start
      level counts as the start level), over at least ``min_window_hours`` so sub-hourly polling is not
      stricter than hourly;
    - ceiling: more than ``ceiling_spans`` spans above the highest alert threshold (water that high has long
      left the channel, so the gauge is wrong).
    Checked on a year of Kochi gauges (2025-09…2026-08, 155 gauges): genuine readings reach at most 0.95
    spans/hour and 0.83 spans above danger; the 渡し上り川橋下流 spikes are 3.8–5.4 spans/hour and 2.8–4.9
    spans above danger. The defaults leave room both ways.
    """

    max_rise_spans_per_hour: float = 1.5
    min_window_hours: float = 1.0
    ceiling_spans: float = 2.0
    min_span_m: float = 0.5
    # Confirm-before-alert: the largest rise in one reading that may page a town unconfirmed, in spans; the
    # year of Kochi gauges has genuine alerting readings of at most 0.85 spans (新田橋, 2026-06-02) above
    # the previous one, while a one-reading spike from low water to the danger level is at least 1 span.
    jump_spans: float = 0.9
    history_factor: float = 1.5  # …or this times the largest rise the gauge's own trusted readings have made
    vanish_spans: float = 0.3  # vanishing from more than this above the start level is "no data"
    max_fall_spans_per_hour: float = 1.0  # …until it has been gone long enough to fall that far

    def jump_limit(self, station: Station, history: float | None) -> float | None:
        """The largest rise in one reading this gauge may make before an alert needs a second reading."""
        span = self.span(station)
        if span is None:
            return None
        return max(self.jump_spans * span, self.history_factor * (history or 0.0))

    def plausibly_fallen(self, station: Station, level: float, since: datetime | None, now: datetime) -> bool:
        """Whether a gauge last trusted at ``level`` could have fallen below its start level by ``now``."""
        span, start = self.span(station), station.thresholds.start
        if span is None or start is None or level - start <= self.vanish_spans * span:
            return True
        hours = (now - since).total_seconds() / 3600 if since else 0.0
        return hours * self.max_fall_spans_per_hour * span >= level - start

    def span(self, station: Station) -> float | None:
        t = station.thresholds
        if t.danger is None:
            return None
        lower = [x for x in (t.start, t.standby, t.caution, t.evacuation) if x is not None and x < t.danger]
        return max(t.danger - min(lower, default=t.danger), self.min_span_m)

    def implausible(
        self, station: Station, level: float, at: datetime, base: float | None, base_at: datetime | None
    ) -> str | None:
        """Why ``level`` at ``at`` cannot follow ``base`` at ``base_at`` (None = plausible)."""
        span = self.span(station)
        if span is None:
            return None
        top = max(x for x in (station.thresholds.danger, station.thresholds.flooding) if x is not None)
        if level > top + self.ceiling_spans * span:
            return (
                f"{level - top:.2f} m above the highest threshold (ceiling {self.ceiling_spans} spans of {span:.2f} m)"
            )
        if base is None:
            return None
        hours = max((at - base_at).total_seconds() / 3600 if base_at else 0.0, self.min_window_hours)
        if level - base > self.max_rise_spans_per_hour * span * hours:
            limit = f"limit {self.max_rise_spans_per_hour} spans/h of {span:.2f} m"
            return f"rose {level - base:.2f} m in {hours:.1f} h ({limit})"
        return None


@dataclass(frozen=True)
class AlertRules:
    """Everything tunable; ``from_mapping`` reads the same keys from TOML/JSON settings."""

    rearm_margin_m: float = 0.2
    rearm_margin_fraction: float = 0.0  # of the span; the larger of the two margins applies
    spike: SpikeRule = field(default_factory=SpikeRule)

    def margin(self, station: Station) -> float:
        span = self.spike.span(station) or 0.0
        return max(self.rearm_margin_m, self.rearm_margin_fraction * span)

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any]) -> AlertRules:
        spike = SpikeRule(**dict(doc.get("spike", {})))
        return cls(**{k: float(v) for k, v in doc.items() if k != "spike"}, spike=spike)


@dataclass(frozen=True)
class StationState:
    """What the engine remembers about one station between snapshots (store it as ``to_dict()`` JSON)."""

    level: float | None = None  # last trusted level; None = below start level / never seen
    at: datetime | None = None  # time of that observation (for an absence: the snapshot's time)
    latched: Stage | None = None  # highest stage alerted and not yet re-armed
    held_level: float | None = None  # suspect reading waiting for confirmation
    held_at: datetime | None = None
    max_jump: float | None = None  # largest rise between two trusted readings seen (the gauge's history)
    missing_since: datetime | None = None  # vanished from well above start level: no data since then

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "at": self.at.isoformat() if self.at else None,
            "latched": self.latched.name.lower() if self.latched else None,
            "held_level": self.held_level,
            "held_at": self.held_at.isoformat() if self.held_at else None,
            "max_jump": self.max_jump,
            "missing_since": self.missing_since.isoformat() if self.missing_since else None,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StationState:
        def when(v: Any) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        latched = doc.get("latched")
        return cls(
            level=doc.get("level"),
            at=when(doc.get("at")),
            latched=Stage[latched.upper()] if latched else None,
            held_level=doc.get("held_level"),
            held_at=when(doc.get("held_at")),
            max_jump=doc.get("max_jump"),
            missing_since=when(doc.get("missing_since")),
        )


@dataclass(frozen=True)
class HeldReading:
    """A reading not trusted (yet): the poller logs these; they never reach residents on their own."""

    station_code: str
    observed_at: datetime
    level: float
    reason: str


@dataclass
class Evaluation:
    alerts: list[RiverAlert] = field(default_factory=list)
    states: dict[str, StationState] = field(default_factory=dict)
    held: list[HeldReading] = field(default_factory=list)  # suspect readings held this time
    confirmed: list[HeldReading] = field(default_factory=list)  # earlier suspects the next reading confirmed
    discarded: list[HeldReading] = field(default_factory=list)  # suspects dropped: the river fell instead
    unknown_stations: list[str] = field(default_factory=list)  # readings for stations not in the registry
    no_data: list[str] = field(default_factory=list)  # vanished from well above start level: not "fell"


def _threshold(station: Station, stage: Stage) -> float:
    value = station.thresholds.of(stage)
    assert value is not None  # alert_stages only lists stages with a threshold
    return value


def _reached(station: Station, level: float | None) -> Stage | None:
    """The highest alert stage this level is at or above."""
    if level is None:
        return None
    return max((s for s in station.alert_stages if level >= _threshold(station, s)), default=None)


def _fall(
    station: Station, latched: Stage | None, reading: Reading, rules: AlertRules
) -> tuple[Stage | None, list[RiverAlert]]:
    """Re-arm every stage the level is now clearly below (by the margin), and say so once, for the highest."""
    level = reading.level
    cleared: Stage | None = None
    margin = rules.margin(station)
    while latched is not None and (level is None or level < _threshold(station, latched) - margin):
        cleared = cleared or latched
        latched = max((s for s in station.alert_stages if s < latched), default=None)
    if cleared is None:
        return latched, []
    return latched, [fall_alert(station, cleared, level, _threshold(station, cleared), reading.observed_at, latched)]


def _max_jump(state: StationState, level: float | None) -> float | None:
    """The largest rise in one reading seen at this gauge (what it can do, for the spike check)."""
    if level is not None and state.level is not None and level - state.level > (state.max_jump or 0.0):
        return round(level - state.level, 3)
    return state.max_jump


def _accept(
    station: Station, state: StationState, reading: Reading, rules: AlertRules
) -> tuple[StationState, list[RiverAlert]]:
    """Trusted reading: alert on a rise past the latched stage, or re-arm (and say so) on a fall."""
    level, at = reading.level, reading.observed_at
    reached = _reached(station, level)
    latched: Stage | None
    if reached is not None and level is not None and (state.latched is None or reached > state.latched):
        latched, alerts = reached, [rise_alert(station, reached, level, _threshold(station, reached), at)]
    else:
        latched, alerts = _fall(station, state.latched, reading, rules)
    return StationState(level=level, at=at, latched=latched, max_jump=_max_jump(state, level)), alerts


def _would_alert(station: Station, latched: Stage | None, level: float) -> bool:
    return any(level >= _threshold(station, s) and (latched is None or s > latched) for s in station.alert_stages)


def _jump(station: Station, state: StationState, rules: AlertRules, level: float, base: float | None) -> str | None:
    """Why an alerting reading needs a second one: it rose more in one reading than this gauge can."""
    limit = rules.spike.jump_limit(station, state.max_jump)
    if limit is None or base is None or level - base <= limit or not _would_alert(station, state.latched, level):
        return None
    return f"jumped {level - base:.2f} m in one reading (limit {limit:.2f} m for this gauge): needs a second reading"


def _held(station: Station, state: StationState) -> HeldReading | None:
    if state.held_level is None or state.held_at is None:
        return None
    return HeldReading(station.code, state.held_at, state.held_level, "unconfirmed")


def _already_seen(state: StationState, reading: Reading) -> bool:
    """The feed repeated an observation we already have (trusted or held)."""
    newest = max((t for t in (state.at if state.level is not None else None, state.held_at) if t), default=None)
    return newest is not None and reading.observed_at <= newest


def _suspicion(
    station: Station, state: StationState, level: float, at: datetime, rules: AlertRules, held: HeldReading | None
) -> tuple[str | None, bool]:
    """Why a reading is not trusted yet (None: it is), and whether it agrees with the reading held before."""
    base = state.level if state.level is not None else station.thresholds.start
    reason = rules.spike.implausible(station, level, at, base, state.at)
    agrees = (
        held is not None
        and rules.spike.implausible(station, level, at, held.level, held.observed_at) is None
        and _jump(station, state, rules, level, held.level) is None
    )
    if reason is None and state.at is not None:  # a gauge never seen before has nothing to jump from
        reason = _jump(station, state, rules, level, base)
    return reason, agrees


def step(station: Station, state: StationState, reading: Reading, rules: AlertRules, out: Evaluation) -> StationState:
    """One reading for one station; appends to ``out`` and returns the station's new state."""
    held = _held(station, state)
    if reading.level is not None:  # a fall below start level (level None) is always believed
        if _already_seen(state, reading):
            return state
        reason, agrees = _suspicion(station, state, reading.level, reading.observed_at, rules, held)
        if reason is not None and held is not None and agrees:
            out.confirmed.append(held)
            held, reason = None, None
        if reason is not None:
            if held is not None:
                out.discarded.append(held)  # superseded by a newer suspect
            out.held.append(HeldReading(station.code, reading.observed_at, reading.level, reason))
            return replace(state, held_level=reading.level, held_at=reading.observed_at)
    if held is not None:
        out.discarded.append(held)  # the river fell, or went on plausibly from its trusted level
    new, alerts = _accept(station, state, reading, rules)
    out.alerts.extend(alerts)
    return new


def _unlisted(
    snapshot: Snapshot, stations: Mapping[str, Station], listed: set[str], rules: AlertRules, out: Evaluation
) -> None:
    """A complete snapshot that leaves a gauge out says it is below its start level, unless it was well
    above a moment ago: then it is "no data", not "water fell"."""
    low = StationState(at=snapshot.taken_at)  # shared: immutable, and most stations are low most of the time
    for code, station in stations.items():
        if station.source != snapshot.source or code in listed:
            continue
        state = out.states.get(code, StationState())
        if state.at is not None and state.at >= snapshot.taken_at:
            continue
        if state.level is None and state.latched is None and state.held_level is None:
            out.states[code] = low  # still low: only the time moves on
            continue
        if state.level is not None and not rules.spike.plausibly_fallen(
            station, state.level, state.at, snapshot.taken_at
        ):
            out.states[code] = replace(state, missing_since=state.missing_since or snapshot.taken_at)
            out.no_data.append(code)  # gone from well above start level: no data, not "water fell"
            continue
        out.states[code] = step(station, state, Reading(code, snapshot.taken_at, None), rules, out)


def evaluate(
    snapshot: Snapshot,
    stations: Mapping[str, Station],
    states: Mapping[str, StationState],
    rules: AlertRules | None = None,
) -> Evaluation:
    """Apply one snapshot. ``states`` is not modified; ``Evaluation.states`` holds every station's new state."""
    rules = rules or AlertRules()
    out = Evaluation(states=dict(states))
    listed: set[str] = set(snapshot.unreadable)
    for reading in sorted(snapshot.readings, key=lambda r: r.observed_at):
        station = stations.get(reading.station_code)
        if station is None:
            if reading.station_code not in out.unknown_stations:
                out.unknown_stations.append(reading.station_code)
            continue
        listed.add(station.code)
        out.states[station.code] = step(station, out.states.get(station.code, StationState()), reading, rules, out)
    if snapshot.complete:
        _unlisted(snapshot, stations, listed, rules, out)
    return out


def replay(
    snapshots: Iterable[Snapshot],
    stations: Mapping[str, Station],
    rules: AlertRules | None = None,
    states: Mapping[str, StationState] | None = None,
) -> Evaluation:
    """Feed snapshots through ``evaluate`` in order; the result accumulates every list and ends with the last states."""
    total = Evaluation(states=dict(states or {}))
    for snapshot in snapshots:
        one = evaluate(snapshot, stations, total.states, rules)
        total.states = one.states
        total.alerts += one.alerts
        total.held += one.held
        total.confirmed += one.confirmed
        total.discarded += one.discarded
        total.unknown_stations += [c for c in one.unknown_stations if c not in total.unknown_stations]
        total.no_data += [c for c in one.no_data if c not in total.no_data]
    return total
