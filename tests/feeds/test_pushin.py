"""The push-in endpoint: only a relay's own token gets in, bad input is a problem and never reaches residents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from pushsvc.db import session_scope
from pushsvc.delivery.models import Notification
from pushsvc.feeds import pushin
from pushsvc.feeds.models import FeedAlert, FeedPushSource
from pushsvc.operators.models import AuditEntry
from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.seismic_harness import Seismic, seismic

__all__ = ["seismic"]

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><Report>&b;</Report>'
)


def _counts(s: Seismic) -> tuple[int, int]:
    with s.h.db.sessionmaker() as db:
        return (
            int(db.execute(select(func.count()).select_from(Notification)).scalar_one()),
            int(db.execute(select(func.count()).select_from(FeedAlert)).scalar_one()),
        )


def test_a_token_is_stored_hashed_audited_and_stops_working_when_revoked(seismic: Seismic) -> None:
    s = seismic
    with s.h.db.sessionmaker() as db:
        row = db.execute(select(FeedPushSource)).scalar_one()
        assert row.name == "relay-1" and s.token not in row.token_hash and len(row.token_hash) == 64
        assert db.execute(select(AuditEntry.action)).scalars().all() == ["push_source.create"]
    resident = s.resident("39201")
    assert s.push(tg.eew(), token="psr_not-a-token").status_code == 401
    r = s.h.client.post("/api/v1/feeds/jma/telegrams", content=tg.eew())
    assert r.status_code == 401 and r.json()["field"] == "authorization"
    assert r.headers["content-type"].startswith("application/problem+json")
    with session_scope(s.h.db.sessionmaker) as db:
        pushin.revoke_source(db, "relay-1", now=datetime.now(UTC))
    assert s.push(tg.eew()).status_code == 401
    s.deliver()
    assert s.got(resident) == [] and _counts(s) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<Report><Control>",
        BOMB,
        tg.eew()[:200],
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
    ],
    ids=["empty", "text", "truncated-tag", "entity-bomb", "truncated-telegram", "atom-feed"],
)
def test_bad_input_is_a_problem_naming_the_body_and_reaches_no_one(seismic: Seismic, body: bytes) -> None:
    s = seismic
    resident = s.resident("39201")
    r = s.push(body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "body" and r.headers["content-type"].startswith("application/problem+json")
    s.deliver()
    assert s.got(resident) == [] and _counts(s) == (0, 0)
    assert s.accept(tg.eew())["duplicate"] is False  # the endpoint still works, nothing left half-written


def test_the_same_telegram_twice_is_handled_once(seismic: Seismic) -> None:
    s = seismic
    resident = s.resident("39201")
    first = s.push(tg.eew())
    again = s.push(tg.eew())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True and again.json()["telegram_id"] == first.json()["telegram_id"]
    s.deliver()
    assert len(s.got(resident)) == 1


def test_an_oversized_body_is_refused_before_it_is_read(seismic: Seismic) -> None:
    s = seismic
    r = s.push(b"<" + b"x" * (s.h.settings.jma_push_max_bytes + 1))
    assert r.status_code == 413 and r.json()["field"] == "body"
