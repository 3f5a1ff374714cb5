"""A 緊急地震速報's first batch is committed, and sent, before the rest of its recipients are written.

The issue's target is the first push within half a second of the telegram's arrival (bench/eew.py measures
it). These tests pin what makes that possible and what it must not cost: a worker can take the first
batch while the request is still writing the others; every resident still gets exactly one message; a
request that dies after its first commit leaves nobody out (a worker resumes the append); a 取消 that
arrives in between reaches exactly those who got the warning, and nobody more is sent the warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pushsvc.db import session_scope
from pushsvc.delivery import enqueue
from pushsvc.delivery import service as delivery
from pushsvc.delivery.worker import Worker
from pushsvc.dev.devpush import DevPush
from pushsvc.feeds import pushin
from pushsvc.main import create_app
from pushsvc.webpush.sender import PushSender
from tests.conftest import TestDatabase
from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.jma.kochi import CODES
from tests.feeds.seismic_harness import NANKAI_TOML, Seismic
from tests.fixtures.delivery import Harness, Resident, delivery_settings

KOCHI, NANKOKU, SHIMANTO = "39201", "39204", "39210"
BATCH = 2


@pytest.fixture
def seismic(db: TestDatabase, tmp_path: Path, devpush: DevPush) -> Iterator[Seismic]:
    nankai = tmp_path / "nankai.toml"
    nankai.write_text(NANKAI_TOML, encoding="utf-8")
    settings = delivery_settings(
        db, tmp_path, jma_codes_dir=CODES, nankai_config_file=nankai, delivery_batch_size=BATCH
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with session_scope(db.sessionmaker) as s:
            _, token = pushin.create_source(s, "relay-1", now=datetime.now(UTC))
        yield Seismic(Harness(db, settings, app, client, devpush), token)


def _send_what_is_due(s: Seismic) -> None:
    """A worker in its own event loop (the request is still running in this thread's caller)."""

    async def go() -> None:
        async with PushSender.from_settings(s.h.settings, s.h.app.state.vapid) as sender:
            await Worker(s.h.settings, s.h.db.sessionmaker, sender).run(asyncio.Event(), until_idle=True)

    asyncio.run(go())


def _residents(s: Seismic) -> tuple[list[Resident], Resident]:
    warned = [s.resident(KOCHI) for _ in range(4)] + [s.resident(NANKOKU), s.resident(KOCHI, NANKOKU)]
    return warned, s.resident(SHIMANTO)


def test_a_worker_sends_the_first_batch_while_the_rest_are_still_being_written(
    seismic: Seismic, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seismic
    warned, elsewhere = _residents(s)
    reached_before_the_rest: list[int] = []
    real_append = enqueue.append_recipients

    def append_after_a_worker_ran(db_session: Session, notification_id: int, **kw: Any) -> int:
        _send_what_is_due(s)  # the request has committed the first batch; the rest is not written yet
        reached_before_the_rest.append(sum(len(s.got(r)) for r in warned))
        return real_append(db_session, notification_id, **kw)

    monkeypatch.setattr(enqueue, "append_recipients", append_after_a_worker_ran)
    accepted = s.accept(tg.eew(("631",)))
    assert reached_before_the_rest == [BATCH]  # the first batch went out before the others existed
    assert [n["targeted"] for n in accepted["notifications"]] == [len(warned)]  # the 202 counts everyone
    s.deliver()
    for r in warned:  # one message each, including the resident with two places in 中部
        [msg] = s.got(r)
        assert msg.json()["title"] == "緊急地震速報 強い揺れに警戒 高知県中部" and msg.urgency == "high"
    assert s.got(elsewhere) == []
    status = s.h.status(accepted["notifications"][0]["notification_id"])
    assert (status["status"], status["targeted"], status["sent"]) == ("done", len(warned), len(warned))


def test_a_request_that_dies_after_its_first_commit_leaves_nobody_out(
    seismic: Seismic, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seismic
    warned, elsewhere = _residents(s)

    def process_dies(db_session: Session, notification_id: int, **kw: Any) -> int:
        raise RuntimeError("the API process was killed here")

    monkeypatch.setattr(enqueue, "append_recipients", process_dies)
    s.accept(tg.eew(("631",)))
    monkeypatch.undo()
    s.deliver()  # the first batch only: the append is not stale yet, so nobody resumes it
    assert sum(len(s.got(r)) for r in warned) == BATCH
    monkeypatch.setattr(enqueue, "RESUME_AFTER_S", 0.0)
    s.deliver()  # a worker finds the append left undone and finishes it
    assert [len(s.got(r)) for r in warned] == [1] * len(warned) and s.got(elsewhere) == []
    with s.h.db.sessionmaker() as db_session:
        [n] = delivery.active_alerts(db_session)
        assert (n.status, n.targeted, n.sent, n.appending) == ("done", len(warned), len(warned), False)


def test_a_cancellation_between_the_first_batch_and_the_rest_reaches_exactly_who_got_it(
    seismic: Seismic, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seismic
    warned, elsewhere = _residents(s)
    real_append = enqueue.append_recipients

    def cancelled_in_between(db_session: Session, notification_id: int, **kw: Any) -> int:
        _send_what_is_due(s)
        with session_scope(s.h.db.sessionmaker) as other:  # the 取消 arrives from the relay meanwhile
            pushin.accept(
                other,
                tg.eew(("631",), serial="2", info_type="取消"),
                f"Bearer {s.token}",
                settings=s.h.settings,
                now=datetime.now(UTC),
            )
        return real_append(db_session, notification_id, **kw)

    monkeypatch.setattr(enqueue, "append_recipients", cancelled_in_between)
    s.accept(tg.eew(("631",)))
    s.deliver()
    got = [[m.json()["body"] for m in s.got(r)] for r in warned]
    reached = [g for g in got if g]
    assert len(reached) == BATCH  # the warning reached the first batch only, and nobody after the 取消
    for bodies in reached:
        assert len(bodies) == 2 and "取り消されました" in bodies[1]
    assert s.got(elsewhere) == []
