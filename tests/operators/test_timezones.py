"""Times are explicit UTC on every backend: a console in Japan reading a naive time shows it 9 h off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from pushsvc.db import session_scope
from pushsvc.operators.models import Operator
from tests.operators.conftest import Ops

JST = timezone(timedelta(hours=9))


def test_message_history_times_carry_utc_z(ops: Ops) -> None:
    before = datetime.now(UTC)
    ops.send("pref-a", title="時刻テスト")
    listed = ops.call("GET", "/api/v1/messages", "pref-a").json()
    accepted = listed[0]["timing"]["accepted"]
    assert accepted.endswith("Z"), accepted
    assert abs(datetime.fromisoformat(accepted) - before) < timedelta(minutes=5)


def test_a_time_given_in_jst_is_the_same_instant_when_read_back(ops: Ops) -> None:
    with session_scope(ops.h.db.sessionmaker) as s:
        op = s.scalars(select(Operator).where(Operator.name == "pref-b")).one()
        op.revoked_at = datetime(2026, 6, 2, 22, 0, tzinfo=JST)
    with ops.h.db.sessionmaker() as s:
        read = s.scalars(select(Operator).where(Operator.name == "pref-b")).one()
        assert read.revoked_at == datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
        assert read.revoked_at is not None and read.revoked_at.utcoffset() == timedelta(0)
        assert read.created_at.tzinfo is not None
