"""JMA area codes → N03 municipality codes, from the prefecture's code tables (CSV, path configurable).

A JMA 市町村等 code is 7 digits: the 5-digit N03 code plus ``00`` (3920100 高知市 → 39201). Coarser JMA
areas (一次細分区域, 市町村等をまとめた地域, 地震情報細分区域, 津波予報区) stand for several municipalities;
the tables say which.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pushsvc.feeds.jma.xmlsafe import TelegramError

QUAKE_AREA_TYPE = "地震情報／細分区域"
TSUNAMI_AREA_TYPE = "津波予報区"


@dataclass(frozen=True)
class Municipality:
    jma_code: str  # 7 digits
    n03_code: str  # 5 digits
    name: str
    class15_code: str
    class10_code: str
    class10_name: str
    coastal: bool  # 高潮/波浪 target: the table's stand-in for "on the tsunami coast"


@dataclass(frozen=True)
class AreaResolver:
    """Maps any JMA area code of one prefecture to the N03 codes it covers; foreign codes map to nothing."""

    prefecture: str
    municipalities: tuple[Municipality, ...]
    quake_areas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # 630 → N03 codes
    tsunami_areas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # 610 → N03 codes

    @cached_property
    def by_jma(self) -> dict[str, Municipality]:
        return {m.jma_code: m for m in self.municipalities}

    def name(self, n03_code: str) -> str:
        return next((m.name for m in self.municipalities if m.n03_code == n03_code), n03_code)

    def municipality(self, jma_code: str) -> str | None:
        """N03 code for a 7-digit 市町村等 code of this prefecture, else ``None``."""
        known = self.by_jma.get(jma_code)
        if known:
            return known.n03_code
        if len(jma_code) == 7 and jma_code.isdigit() and jma_code.startswith(self.prefecture):
            return jma_code[:5] if jma_code.endswith("00") else None
        return None

    def weather_area(self, code: str) -> tuple[str, ...]:
        """A 6-digit 府県予報区/一次細分区域/市町村等をまとめた地域 code → its municipalities."""
        return tuple(
            m.n03_code
            for m in self.municipalities
            if code in (m.class15_code, m.class10_code) or code == f"{self.prefecture}0000"
        )

    def quake_area(self, code: str) -> tuple[str, ...]:
        return self.quake_areas.get(code, ())

    def tsunami_area(self, code: str) -> tuple[str, ...]:
        return self.tsunami_areas.get(code, ())

    def resolve(self, code: str) -> tuple[str, ...]:
        """Any 市町村等 (7-digit) or 6-digit forecast-area code → N03 codes."""
        if len(code) == 7:
            n03 = self.municipality(code)
            return (n03,) if n03 else ()
        return self.weather_area(code) if len(code) == 6 else ()


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TelegramError(f"cannot read JMA code table {path}: {exc}") from exc


def _municipalities(rows: Iterable[dict[str, str]], prefecture: str) -> tuple[Municipality, ...]:
    out = []
    for r in rows:
        code = r.get("city_code_7", "")
        if not code.startswith(prefecture):
            continue
        out.append(
            Municipality(
                jma_code=code,
                n03_code=code[:5],
                name=r.get("name", ""),
                class15_code=r.get("class15_code(市町村等をまとめた地域)", ""),
                class10_code=r.get("class10_code(一次細分区域)", ""),
                class10_name=r.get("class10_name", ""),
                coastal=r.get("storm_surge_target(高潮)") == "1" or r.get("wave_target(波浪)") == "1",
            )
        )
    return tuple(out)


def load_area_codes(area_csv: Path, other_csv: Path | None = None, *, prefecture: str = "39") -> AreaResolver:
    """Build a resolver from ``<pref>_area_codes.csv`` (+ ``<pref>_other_codes.csv`` for quake/tsunami areas).

    地震情報細分区域 (高知県東部 …) map to the municipalities of the 一次細分区域 with the same suffix;
    a 津波予報区 maps to the prefecture's coastal municipalities.
    """
    munis = _municipalities(_rows(area_csv), prefecture)
    if not munis:
        raise TelegramError(f"{area_csv}: no municipality of prefecture {prefecture}")
    quake: dict[str, tuple[str, ...]] = {}
    tsunami: dict[str, tuple[str, ...]] = {}
    for r in _rows(other_csv) if other_csv else []:
        kind, code, name = r.get("code_type", ""), r.get("code", ""), r.get("name", "")
        if kind.startswith(QUAKE_AREA_TYPE):
            quake[code] = tuple(m.n03_code for m in munis if m.class10_name and name.endswith(m.class10_name))
        elif kind.startswith(TSUNAMI_AREA_TYPE):
            tsunami[code] = tuple(m.n03_code for m in munis if m.coastal)
    return AreaResolver(prefecture, munis, quake, tsunami)


def load_area_dir(directory: Path, *, prefecture: str = "39") -> AreaResolver:
    """Find the two tables in a directory (``*area_codes.csv``, ``*other_codes.csv``): the configured layout."""
    areas = sorted(directory.glob("*area_codes.csv"))
    if not areas:
        raise TelegramError(f"no *area_codes.csv in {directory}")
    others = sorted(directory.glob("*other_codes.csv"))
    return load_area_codes(areas[0], others[0] if others else None, prefecture=prefecture)
