"""A worker frozen (SIGSTOP) inside a transaction that holds the notification's row: the others carry on.

PostgreSQL only: it is where several workers run at once (SQLite serves one worker). The freeze is made
deterministic: the test holds the notification's row itself until the first worker is waiting on it,
stops that worker, then lets go, so the frozen worker's session ends up holding the row, idle in its
transaction, exactly as a worker stopped between two statements would.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

import pytest
from sqlalchemy import create_engine, select, text

from pushsvc.delivery.models import DeliveryBatch, Notification
from pushsvc.delivery.service import FINAL_STATUSES, get_notification
from tests.delivery.test_worker_killed import _wait
from tests.delivery.test_worker_killed import _worker as start_worker
from tests.fixtures.delivery import KOCHI_KENCHO, Harness

BATCH = 5
LEASE_S = 2


def _worker(harness: Harness, name: str) -> subprocess.Popen[bytes]:
    # PGAPPNAME (libpq) lets the test find this worker's sessions in pg_stat_activity
    return start_worker(
        harness,
        PGAPPNAME=name,
        PUSHSVC_WORKER_LEASE_S=str(LEASE_S),
        PUSHSVC_WORKER_CONCURRENCY="2",
        PUSHSVC_DELIVERY_BACKOFF_BASE_S="0.1",
        PUSHSVC_LOG_LEVEL="ERROR",
    )


@pytest.mark.slow
def test_a_worker_stopped_inside_a_transaction_does_not_stop_the_others(harness: Harness) -> None:
    if harness.db.backend != "postgresql":
        pytest.skip("several workers at once run on PostgreSQL")
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(8 * BATCH)]
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": BATCH})
    harness.app.state.settings = harness.settings
    nid = harness.notify(target={"municipality_codes": ["39201"]})

    observer = create_engine(harness.db.url, isolation_level="AUTOCOMMIT")
    holder = create_engine(harness.db.url)
    frozen = other = None
    try:
        with holder.connect() as hold, observer.connect() as watch:
            hold.execute(select(Notification.id).where(Notification.id == nid).with_for_update())
            frozen = _worker(harness, "pushsvc-frozen")

            def frozen_waits_on_the_row() -> bool:
                return bool(
                    watch.execute(
                        text(
                            "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE a.application_name = 'pushsvc-frozen' AND NOT l.granted"
                        )
                    ).first()
                )

            _wait(frozen_waits_on_the_row, 30, "the first worker to write the notification's row")
            frozen.send_signal(signal.SIGSTOP)
            hold.rollback()  # the frozen worker's session now gets the row, and keeps it while stopped

            def frozen_holds_the_row() -> bool:
                return bool(
                    watch.execute(
                        text(
                            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pushsvc-frozen' "
                            "AND state LIKE 'idle in transaction%'"
                        )
                    ).first()
                )

            _wait(frozen_holds_the_row, 5, "the frozen worker's session to sit in its transaction")
            other = _worker(harness, "pushsvc-other")

            def finished() -> bool:
                with harness.db.sessionmaker() as s:
                    return get_notification(s, nid).status in FINAL_STATUSES

            _wait(finished, 40, "the other worker to finish the fan-out past the frozen one")
    finally:
        for proc in (frozen, other):
            if proc is not None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in (frozen, other):
            if proc is not None:
                proc.wait(10)
        observer.dispose()
        holder.dispose()

    counts = Counter({r.id: len(harness.push.received(r.device)) for r in residents})
    assert all(n >= 1 for n in counts.values()), "a resident was missed"
    assert sum(1 for n in counts.values() if n > 1) <= 2 * BATCH  # at most the frozen worker's batches
    with harness.db.sessionmaker() as s:
        batches = s.execute(select(DeliveryBatch).where(DeliveryBatch.notification_id == nid)).scalars().all()
        assert all(b.status == "done" for b in batches)
    assert harness.status(nid)["sent"] >= len(residents)
