"""Per-process snapshots of what every portal answer reads: active alerts, notices, river gauges.

At 200 answers a second, re-reading the same few rows for every resident costs more than the answer
itself. A snapshot is rebuilt when the cheap version it was built for changes (checked by the caller on
every request, so a new or cancelled alert shows at once) or after ``ttl`` seconds (so what the
version does not cover, e.g. delivery progress or a river level, is never older than that). Snapshots
are keyed by database URL, so tests on two backends in one process never see each other's data.
Values must be immutable or treated as such: they are shared by every request thread.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import DeclarativeBase, Session

from pushsvc.db import cache_key

T = TypeVar("T")
M = TypeVar("M", bound=DeclarativeBase)


def detached(row: M) -> M:
    """A copy of a loaded ORM object in no session: it can be shared between requests and is never
    expired or changed by anyone's commit."""
    return type(row)(**{a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs})


@dataclass(frozen=True)
class _Entry(Generic[T]):
    version: Hashable
    built: float
    value: T


class Snapshot(Generic[T]):
    """One value per database, shared by the requests of this process (see the module docstring)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, _Entry[T]] = {}
        _ALL.add(self)

    def get(self, db_session: Session, version: Hashable, load: Callable[[], T]) -> T:
        """The cached value if it was built for ``version`` less than ``ttl_s`` ago, else ``load()``.

        Two threads may both rebuild after a change; the last one wins and both answers are current,
        which is cheaper than making every request wait on a lock.
        """
        key = cache_key(db_session)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit.version == version and now - hit.built < self.ttl_s:
            return hit.value
        value = load()
        self._entries[key] = _Entry(version, now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


_ALL: weakref.WeakSet[Snapshot[Any]] = weakref.WeakSet()


def clear_all() -> None:
    """Forget every snapshot of this process: after a database was emptied under it (tests, a restore)."""
    for snapshot in list(_ALL):
        snapshot.clear()
