"""Operator fixtures: the delivery harness (real app, local push service, worker) plus operator tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pushsvc.db import session_scope
from pushsvc.delivery.worker import Worker
from pushsvc.operators import accounts
from pushsvc.webpush.sender import PushSender
from tests.delivery.conftest import KOCHI_KENCHO, MUROTO, SHIMANTO, Harness, devpush, devpush_server, harness

__all__ = ["KOCHI_KENCHO", "MUROTO", "SHIMANTO", "devpush", "devpush_server", "harness"]

KOCHI, MUROTO_CODE = "39201", "39202"
KATSURAHAMA_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[133.560, 33.485], [133.590, 33.485], [133.590, 33.510], [133.560, 33.510], [133.560, 33.485]]],
}


@dataclass
class Ops:
    """Operators and their tokens, with helpers that call the API as one of them."""

    h: Harness
    tokens: dict[str, str]

    def add(self, name: str, role: str, municipalities: tuple[str, ...] = ()) -> str:
        with session_scope(self.h.db.sessionmaker) as s:
            _, token = accounts.create_operator(s, name=name, role=role, municipalities=municipalities)
        self.tokens[name] = token
        return token

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def call(self, method: str, path: str, who: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.h.client.request(method, path, headers={**self.auth(who), **(headers or {})}, **kwargs)

    def send(self, who: str, expect: int = 202, **fields: Any) -> dict[str, Any]:
        r = self.call("POST", "/api/v1/messages", who, json=message(**fields))
        assert r.status_code == expect, r.text
        return dict(r.json())

    def get(self, who: str, message_id: int) -> dict[str, Any]:
        r = self.call("GET", f"/api/v1/messages/{message_id}", who)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def notification_of(self, who: str, message_id: int) -> int:
        """The delivery notification behind a message (via the history API)."""
        from pushsvc.operators.models import OperatorMessage

        with self.h.db.sessionmaker() as s:
            m = s.get(OperatorMessage, message_id)
            assert m is not None and m.notification_id is not None
            return m.notification_id


def message(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "避難所開設", "body": "高知市役所を避難所として開設しました。",
                            "lang": {"en": {"title": "Shelter open", "body": "Kochi City Hall is open."}},
                            "category": "evacuation", "severity": "warning",
                            "target": {"municipality_codes": [KOCHI]}}
    body.update(fields)
    return body


@pytest.fixture
def ops(harness: Harness) -> Ops:
    o = Ops(harness, {})
    o.add("pref-a", "prefecture")
    o.add("pref-b", "prefecture")
    o.add("kochi-city", "municipality", (KOCHI,))
    o.add("muroto-city", "municipality", (MUROTO_CODE,))
    return o


def run_worker_until(h: Harness, stop_when: Callable[[Worker], bool], **overrides: Any) -> None:
    """Run one worker, one batch at a time, until ``stop_when`` says so (partial delivery) or it is idle."""
    settings = h.settings.model_copy(update={"worker_concurrency": 1, **overrides})

    async def go() -> None:
        stop = asyncio.Event()
        async with PushSender.from_settings(settings, h.app.state.vapid) as sender:
            worker = Worker(settings, h.db.sessionmaker, sender)
            worker.on_batch = lambda _nid, _n: stop.set() if stop_when(worker) else None
            await worker.run(stop, until_idle=True)

    asyncio.run(go())
