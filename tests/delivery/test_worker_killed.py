"""A worker killed with SIGKILL halfway through a fan-out: another worker finishes, nobody is missed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from pushsvc.delivery.models import DeliveryBatch
from pushsvc.delivery.service import FINAL_STATUSES, get_notification
from pushsvc.dev.devpush.state import Fault
from tests.fixtures.delivery import KOCHI_KENCHO, Harness, Resident

BATCH = 5


def _worker(harness: Harness, **extra: str) -> subprocess.Popen[bytes]:
    """``pushsvc worker`` as its own process on the harness's database; ``extra``: more environment."""
    s = harness.settings
    env = {
        **os.environ,
        "PUSHSVC_DATABASE_URL": s.database_url,
        "PUSHSVC_VAPID_KEY_FILE": str(s.vapid_key_file),
        "PUSHSVC_VAPID_SUBJECT": s.vapid_subject or "",
        "PUSHSVC_PUSH_ALLOWED_HOSTS": "127.0.0.1",
        "PUSHSVC_PUSH_TIMEOUT_S": "10",
        "PUSHSVC_WORKER_LEASE_S": "2",
        "PUSHSVC_WORKER_CONCURRENCY": "1",
        "PUSHSVC_WORKER_POLL_S": "0.05",
        "PUSHSVC_LOG_LEVEL": "WARNING",
        **extra,
    }
    return subprocess.Popen([sys.executable, "-m", "pushsvc.cli", "worker"], env=env)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _finish_with_a_second_worker(harness: Harness, nid: int, residents: list[Resident]) -> Counter[int]:
    """Start another worker, let it finish the notification; how often each resident got it (all >= 1)."""
    second = _worker(harness)
    try:

        def finished() -> bool:
            with harness.db.sessionmaker() as s:
                return get_notification(s, nid).status in FINAL_STATUSES

        _wait(finished, 60, "the second worker to finish the fan-out")
    finally:
        second.terminate()
        second.wait(10)
    counts = Counter({r.id: len(harness.push.received(r.device)) for r in residents})
    assert all(n >= 1 for n in counts.values()), "a resident was missed"
    return counts


@pytest.mark.slow
def test_sigkilled_worker_mid_fanout_still_delivers_to_everyone(harness: Harness) -> None:
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(6 * BATCH)]
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": BATCH})
    harness.app.state.settings = harness.settings
    harness.push.fault("*", Fault(stall_s=1.5))  # every push hangs: the first worker dies mid-batch
    nid = harness.notify(target={"municipality_codes": ["39201"]})

    def leased() -> bool:
        with harness.db.sessionmaker() as s:
            return bool(s.execute(select(DeliveryBatch.id).where(DeliveryBatch.status == "leased")).first())

    first = _worker(harness)
    try:
        _wait(leased, 30, "the first worker to lease a batch")
        time.sleep(0.5)  # its pushes are in flight now
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    harness.push.fault("*", None)

    counts = _finish_with_a_second_worker(harness, nid, residents)
    duplicated = [rid for rid, n in counts.items() if n > 1]
    assert len(duplicated) <= BATCH  # only the killed worker's one batch may arrive twice
    with harness.db.sessionmaker() as s:
        batches = s.execute(select(DeliveryBatch).where(DeliveryBatch.notification_id == nid)).scalars().all()
        assert any(set(duplicated) <= set(b.sent_ids) for b in batches)
        assert all(b.status == "done" for b in batches)
    status = harness.status(nid)
    assert status["status"] == "done" and status["sent"] >= len(residents)
