"""Mid-batch checkpoints: writing down who a push service already accepted a batch for.

A worker killed mid-batch makes its successor resend only what was accepted since the last
checkpoint, so the worker checkpoints all its batches together every ``CHECKPOINT_EVERY`` accepted
(worker.py): duplicates after a crash stay under that, however many batches were in flight. This runs
two or three times per batch, so what it costs the worker is a share of every message's CPU: on
PostgreSQL it is one statement (``_CHECKPOINT_SQL``), see ADR 0014.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pushsvc.db import is_postgres
from pushsvc.delivery.drafts import ClaimedBatch
from pushsvc.delivery.models import DeliveryBatch
from pushsvc.delivery.record import _count, _extend_follow_ups
from pushsvc.timeutil import as_utc as _utc

log = logging.getLogger(__name__)

Progress = Sequence[tuple[ClaimedBatch, Collection[int]]]


def record_progress(
    db_session: Session, claim: ClaimedBatch, sent: Collection[int], *, now: datetime | None = None
) -> bool:
    """Write down, mid-batch, who a push service already accepted it for (the holder only)."""
    return claim.batch_id not in record_progress_many(db_session, [(claim, sent)], now=now)


def record_progress_many(db_session: Session, progress: Progress, *, now: datetime | None = None) -> set[int]:
    """Checkpoint several batches in one short transaction: move who was accepted from pending to sent,
    and add them to their notifications' counters (and to any follow-up already sent, a 取消 say).

    Only for batches ``claim`` still holds (status, owner and attempt); returns the ids of the others,
    for which nothing was written.
    """
    now = _utc(now or datetime.now(UTC))
    if is_postgres(db_session):
        return _in_one_statement(db_session, progress, now)
    return _with_the_orm(db_session, progress, now)


# The whole checkpoint in one round trip: lock the batches still held (in id order, as every other
# writer of batches does), move the accepted ids that are still pending to sent, keeping their order,
# add them to the notifications' counters, and say which notifications a follow-up already references.
# The counters' UPDATE waits for the notification's row lock that a follow-up takes
# (``recipients_who_received``) and then reads ``followed_up`` from the row it updates.
_CHECKPOINT_SQL = """
WITH v AS (
    SELECT x.id, x.attempt, x.done FROM json_to_recordset(%(rows)s::json) AS x(id bigint, attempt int, done bigint[])
),
h AS (
    SELECT d.id, d.notification_id, d.pending_ids, v.done
    FROM delivery_batches d JOIN v ON v.id = d.id AND v.attempt = d.attempt
    WHERE d.status = 'leased' AND d.lease_owner = %(owner)s
    ORDER BY d.id
    FOR UPDATE OF d
),
m AS (
    SELECT h.id, h.notification_id, x.pending, x.moved, x.n
    FROM h CROSS JOIN LATERAL (
        SELECT coalesce(json_agg(e.sid) FILTER (WHERE u.sid IS NULL), '[]'::json) AS pending,
               coalesce(jsonb_agg(e.sid) FILTER (WHERE u.sid IS NOT NULL), '[]'::jsonb) AS moved,
               count(u.sid) AS n
        FROM (SELECT t.v::bigint AS sid FROM json_array_elements_text(h.pending_ids) AS t(v)) e
        LEFT JOIN (SELECT DISTINCT unnest(h.done) AS sid) u ON u.sid = e.sid
    ) x
),
b AS (
    UPDATE delivery_batches d SET pending_ids = m.pending, sent_ids = (d.sent_ids::jsonb || m.moved)::json
    FROM m WHERE d.id = m.id AND m.n > 0
),
s AS (SELECT notification_id, sum(n)::int AS n FROM m GROUP BY notification_id HAVING sum(n) > 0),
c AS (
    UPDATE notifications t
    SET sent = t.sent + s.n, last_sent_at = %(now)s, first_sent_at = coalesce(t.first_sent_at, %(now)s),
        half_sent_at = CASE WHEN t.half_sent_at IS NULL AND (t.sent + s.n) * 2 >= t.targeted
                            THEN %(now)s ELSE t.half_sent_at END
    FROM s WHERE t.id = s.notification_id
    RETURNING t.id, t.followed_up
)
SELECT (SELECT coalesce(array_agg(id), '{}') FROM m),
       (SELECT coalesce(json_agg(json_build_array(m.notification_id, m.moved)), '[]'::json)
          FROM m WHERE m.n > 0 AND m.notification_id IN (SELECT id FROM c WHERE followed_up))
"""


def _in_one_statement(db_session: Session, progress: Progress, now: datetime) -> set[int]:
    """PostgreSQL: ``_CHECKPOINT_SQL``, sent as is (no ORM, no compilation): 0.7-1.0 ms of the worker's
    CPU against 2.8-3.1 ms for the same steps through the ORM (ADR 0014)."""
    owners = {c.worker_id for c, _ in progress}
    if not progress:
        return set()
    assert len(owners) == 1, "one worker's batches per checkpoint"
    rows = json.dumps(
        [{"id": c.batch_id, "attempt": c.attempt, "done": list(ids)} for c, ids in progress], separators=(",", ":")
    )
    held, followed = (
        db_session.connection()
        .exec_driver_sql(_CHECKPOINT_SQL, {"rows": rows, "owner": owners.pop(), "now": now})
        .one()
    )
    by_notification: dict[int, list[int]] = {}
    for notification_id, moved in followed:  # rare: a 取消 or correction already went out
        by_notification.setdefault(notification_id, []).extend(moved)
    for notification_id, moved in by_notification.items():
        _extend_follow_ups(db_session, notification_id, moved, now)
    return _lost(progress, set(held))


def _with_the_orm(db_session: Session, progress: Progress, now: datetime) -> set[int]:
    """SQLite (one worker): one row read and one write per batch, then the counters."""
    claims = {c.batch_id: (c, set(ids)) for c, ids in progress}
    stmt = select(
        DeliveryBatch.id,
        DeliveryBatch.lease_owner,
        DeliveryBatch.attempt,
        DeliveryBatch.pending_ids,
        DeliveryBatch.sent_ids,
        DeliveryBatch.notification_id,
    ).where(DeliveryBatch.id.in_(sorted(claims)), DeliveryBatch.status == "leased")
    held: set[int] = set()
    writes: list[dict[str, Any]] = []
    done_by_notification: dict[int, list[int]] = {}
    for batch_id, owner, attempt, pending, already, notification_id in db_session.execute(stmt):
        claim, wanted = claims[batch_id]
        if owner != claim.worker_id or attempt != claim.attempt:
            continue
        held.add(batch_id)
        done = [sid for sid in pending if sid in wanted]
        if done:
            writes.append(
                {
                    "id": batch_id,
                    "sent_ids": [*already, *done],
                    "pending_ids": [sid for sid in pending if sid not in wanted],
                }
            )
            done_by_notification.setdefault(notification_id, []).extend(done)
    if writes:
        db_session.execute(update(DeliveryBatch), writes)
    for notification_id, done in done_by_notification.items():
        _count(db_session, notification_id, now, done, {})
    return _lost(progress, held)


def _lost(progress: Progress, held: set[int]) -> set[int]:
    lost = {c.batch_id for c, _ in progress} - held
    for batch_id in lost:
        log.warning("batch %s is no longer held by this worker; its checkpoint is dropped", batch_id)
    return lost
