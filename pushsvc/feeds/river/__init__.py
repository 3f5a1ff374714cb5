"""River water levels → RiverAlert records: adapters (k.river, kawabou), station model, pure alert engine.

The poller builds a station registry (``load_crisis_gauges`` / ``livecam_stations`` + ``apply_station_config``),
turns each poll into a ``Snapshot`` (``area_info_snapshot`` / ``tmlist_readings``), calls ``evaluate`` with the
stored ``StationState`` per station, then persists ``Evaluation.states`` and enqueues ``Evaluation.alerts``.
"""

from pushsvc.feeds.river.alerts import RiverAlert
from pushsvc.feeds.river.config import StationConfig, apply_station_config, load_station_config, parse_station_config
from pushsvc.feeds.river.engine import AlertRules, Evaluation, HeldReading, SpikeRule, StationState, evaluate, replay
from pushsvc.feeds.river.records import Reading, Snapshot, Stage, Station, Thresholds, municipality_code, parse_time
from pushsvc.types import Severity

__all__ = [
    "AlertRules",
    "Evaluation",
    "HeldReading",
    "Reading",
    "RiverAlert",
    "Severity",
    "Snapshot",
    "SpikeRule",
    "Stage",
    "Station",
    "StationConfig",
    "StationState",
    "Thresholds",
    "apply_station_config",
    "evaluate",
    "load_station_config",
    "municipality_code",
    "parse_station_config",
    "parse_time",
    "replay",
]
