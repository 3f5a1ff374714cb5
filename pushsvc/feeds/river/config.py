"""Per-station settings the feeds do not carry: river name, municipality, downstream municipalities.

Kept in a TOML file the operator edits (which towns lie downstream of a gauge is local knowledge, not data):

    [stations."3900000050"]      # 鍛冶屋瀬橋
    river = "四万十川"
    downstream = ["39210"]

    [stations."2255900400009"]   # 伊野 (kawabou master has no municipality)
    municipality = "39386"
    downstream = ["39205"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pushsvc.feeds.river.records import Station, municipality_code


@dataclass(frozen=True)
class StationConfig:
    river: str | None = None
    municipality: str | None = None
    downstream: tuple[str, ...] = ()


def parse_station_config(doc: Mapping[str, Any]) -> dict[str, StationConfig]:
    """``{"stations": {code: {river, municipality, downstream}}}`` → validated configs (codes normalised)."""
    out: dict[str, StationConfig] = {}
    for code, entry in dict(doc.get("stations", {})).items():
        unknown = set(entry) - {"river", "municipality", "downstream"}
        if unknown:
            raise ValueError(f"station {code}: unknown keys {sorted(unknown)}")
        town = entry.get("municipality")
        out[str(code)] = StationConfig(
            river=entry.get("river"),
            municipality=municipality_code(town) if town is not None else None,
            downstream=tuple(municipality_code(m) for m in entry.get("downstream", ())),
        )
    return out


def load_station_config(path: Path) -> dict[str, StationConfig]:
    with path.open("rb") as fh:
        return parse_station_config(tomllib.load(fh))


def apply_station_config(stations: Mapping[str, Station], config: Mapping[str, StationConfig]) -> dict[str, Station]:
    """Stations with river names and downstream targets filled in; a configured municipality wins."""
    out: dict[str, Station] = {}
    for code, station in stations.items():
        cfg = config.get(code)
        if cfg is None:
            out[code] = station
            continue
        merged = station.with_config(river=cfg.river, downstream=cfg.downstream)
        if cfg.municipality is not None:
            merged = replace(merged, municipality=cfg.municipality)
        out[code] = merged
    return out
