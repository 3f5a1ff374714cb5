"""Feed sources from the operator's TOML file (``PUSHSVC_FEEDS_FILE``): what to poll, how often, with what options.

Sources are configuration, not data: publishers differ (k.river asks automated collectors to use the paid FRICS
feed, JMA publishes Atom feeds every minute), so the URL, the interval and the adapter are all chosen here::

    [[source]]
    name = "kochi-kriver"
    kind = "kriver_area"
    url = "https://k.river.go.jp/swin/files/area_info/current/39000.json"
    interval_s = 600
    stations_file = "../shared/samples/river/stations/kochi_crisis_gauges_k_river_area_info.csv"
    station_config = "river_stations.toml"   # river names, downstream municipalities (optional)

    [[source]]
    name = "jma-extra"
    kind = "jma_atom"
    url = "https://www.data.jma.go.jp/developer/xml/feed/extra_l.xml"
    interval_s = 60
    offices = ["390000"]                      # default: the prefecture's office
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["kriver_area", "jma_atom", "kawabou"]
KINDS: tuple[str, ...] = ("kriver_area", "jma_atom", "kawabou")
OPTIONS: dict[str, frozenset[str]] = {
    "kriver_area": frozenset({"stations_file", "station_config", "pref_code", "rules"}),
    "jma_atom": frozenset({"offices", "data_types", "codes_dir"}),
    "kawabou": frozenset({"stations_file", "station_config", "station", "rules"}),
}
COMMON = frozenset({"name", "kind", "url", "interval_s", "timeout_s", "enabled", "allowed_hosts"})


class SourceConfigError(ValueError):
    """The feeds file is wrong; the message names the source and the key."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: Kind
    url: str
    interval_s: float = 600.0
    timeout_s: float = 10.0
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = Path(".")  # relative paths in options are relative to the feeds file
    hosts: tuple[str, ...] | None = None  # allowed_hosts; None = the host of ``url`` only

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Hosts this source's documents, telegram links and redirects may come from."""
        return self.hosts if self.hosts is not None else (urlsplit(self.url).hostname or "",)

    def path(self, key: str) -> Path | None:
        value = self.options.get(key)
        if value is None:
            return None
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else self.base_dir / p


class HostNotAllowed(Exception):
    """A document, link or redirect points at a host the source's ``allowed_hosts`` does not list."""


def host_allowed(url: str, allowed: Collection[str] | None) -> bool:
    """Whether ``url``'s host is one a source may be fetched from: exact, or ``*.example.jp`` for subdomains."""
    if allowed is None:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == a or (a.startswith("*.") and host.endswith(a[1:])) for a in (h.lower() for h in allowed))


def _hosts(name: str, entry: Mapping[str, Any]) -> tuple[str, ...] | None:
    hosts = entry.get("allowed_hosts")
    if hosts is None:
        return None
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise SourceConfigError(f"source {name}: allowed_hosts must be a list of host names")
    return tuple(hosts)


def _periods(name: str, entry: Mapping[str, Any]) -> tuple[float, float]:
    """(interval_s, timeout_s), both positive."""
    interval, timeout = float(entry.get("interval_s", 600.0)), float(entry.get("timeout_s", 10.0))
    if interval <= 0 or timeout <= 0:
        raise SourceConfigError(f"source {name}: interval_s and timeout_s must be positive")
    return interval, timeout


def _source(entry: Mapping[str, Any], base_dir: Path) -> SourceConfig:
    name = str(entry.get("name") or "")
    if not name:
        raise SourceConfigError("every [[source]] needs a name")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise SourceConfigError(f"source {name}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    url = str(entry.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise SourceConfigError(f"source {name}: url must be http(s)")
    unknown = set(entry) - COMMON - OPTIONS[kind]
    if unknown:
        raise SourceConfigError(f"source {name}: unknown keys {sorted(unknown)}")
    hosts = _hosts(name, entry)
    interval, timeout = _periods(name, entry)
    return SourceConfig(
        name=name,
        kind=kind,
        url=url,
        interval_s=interval,
        timeout_s=timeout,
        enabled=bool(entry.get("enabled", True)),
        options={k: v for k, v in entry.items() if k in OPTIONS[kind]},
        base_dir=base_dir,
        hosts=hosts,
    )


def parse_sources(doc: Mapping[str, Any], *, base_dir: Path = Path(".")) -> list[SourceConfig]:
    """``{"source": [{...}, ...]}`` → validated sources; names must be unique (they key the stored state)."""
    sources = [_source(e, base_dir) for e in doc.get("source", [])]
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceConfigError(f"duplicate source names: {', '.join(dupes)}")
    return sources


def load_sources(path: Path | None) -> list[SourceConfig]:
    if path is None:
        return []
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceConfigError(f"cannot read feeds file {path}: {exc}") from exc
    return parse_sources(doc, base_dir=path.parent)
