"""One resident's throttled phone, one worker's lost lease and one ordinary backlog delay nobody else."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pushsvc.delivery import service
from pushsvc.delivery.models import DeliveryBatch
from pushsvc.dev.devpush.state import Fault
from pushsvc.errors import ValidationProblem
from pushsvc.webpush.sender import Outcome, PushResult
from tests.fixtures.delivery import KOCHI_KENCHO, Harness, Resident

BATCH = 4


def _small_batches(harness: Harness) -> None:
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": BATCH})
    harness.app.state.settings = harness.settings


@pytest.mark.parametrize("retry_after", ["300", "1000000000000"])
def test_one_endpoint_throttled_delays_and_duplicates_no_one_else_and_is_itself_retried(
    harness: Harness, retry_after: str
) -> None:
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(3 * BATCH)]
    _small_batches(harness)
    throttled = residents[0]
    harness.push.fault(throttled.device, Fault(status=429, retry_after=retry_after, remaining=1))
    first = harness.notify(target={"municipality_codes": ["39201"]}, ttl_seconds=5)
    unrelated = harness.notify(target={"municipality_codes": ["39201"]}, ttl_seconds=5, title={"ja": "別件"})
    harness.run_worker([first, unrelated], worker_concurrency=1)

    received = {r.id: [m.json()["id"] for m in harness.push.received(r.device)] for r in residents}
    for r in residents:  # everyone, the throttled phone too, got each message exactly once
        assert Counter(received[r.id]) == Counter({str(first): 1, str(unrelated): 1}), r.id
    for nid in (first, unrelated):
        status = harness.status(nid)
        assert (status["status"], status["sent"], status["expired"]) == ("done", len(residents), 0)
    # the throttled endpoint was asked twice for the first message (429, then its retry before the TTL ran out)
    assert harness.push.state.stats()["counters"]["status_429"] == 1  # type: ignore[index]


def _claim(
    harness: Harness, worker: str, *, at: datetime, lease: float = 5.0, oldest_first: bool = False
) -> tuple[service.ClaimedBatch, service.Message] | None:
    with harness.db.sessionmaker() as s:
        claimed = service.claim_batch(s, worker_id=worker, lease_seconds=lease, now=at, oldest_first=oldest_first)
        s.commit()
        return claimed


def _leased_briefly(harness: Harness, residents: int) -> tuple[list[Resident], int, datetime, service.ClaimedBatch]:
    """Residents, a notification to them, and its batch claimed by a worker whose lease ends in a second."""
    subscribed = [harness.subscribe(KOCHI_KENCHO) for _ in range(residents)]
    nid = harness.notify(target={"municipality_codes": ["39201"]})
    now = datetime.now(UTC)
    stale = _claim(harness, "frozen", at=now, lease=1.0)
    assert stale is not None
    return subscribed, nid, now, stale[0]


def test_a_worker_that_lost_its_lease_writes_no_results(harness: Harness) -> None:
    residents, nid, now, claim = _leased_briefly(harness, 3)
    stale = (claim,)
    fresh = _claim(harness, "successor", at=now + timedelta(seconds=2))  # the frozen one's lease ran out
    assert fresh is not None and fresh[0].batch_id == stale[0].batch_id and fresh[0].attempt == 2
    gone = {r.id: PushResult(Outcome.GONE, 410, "410 woke up late") for r in residents}
    with harness.db.sessionmaker() as s:
        assert service.record_results(s, stale[0], gone) is False
        s.commit()
    with harness.db.sessionmaker() as s:
        batch = s.get(DeliveryBatch, stale[0].batch_id)
        assert batch is not None and (batch.status, batch.lease_owner) == ("leased", "successor")
    assert harness.status(nid)["gone"] == 0  # nobody's subscription was deleted on the stale word
    sent = {r.id: PushResult(Outcome.SENT, 201, "201") for r in residents}
    with harness.db.sessionmaker() as s:
        assert service.record_results(s, fresh[0], sent) is True
        s.commit()
    assert (harness.status(nid)["status"], harness.status(nid)["sent"]) == ("done", 3)


def test_workers_claim_the_most_urgent_due_batch_first_without_starving_the_rest(harness: Harness) -> None:
    for _ in range(2 * BATCH):
        harness.subscribe(KOCHI_KENCHO)
    _small_batches(harness)
    target = {"target": {"municipality_codes": ["39201"]}}
    notice = harness.notify(**target, severity="info")
    warning = harness.notify(**target, severity="warning", category="weather")
    evacuation = harness.notify(**target, severity="emergency", category="evacuation")
    tsunami = harness.notify(**target, severity="emergency", category="quake_tsunami")
    eew = harness.notify(**target, severity="info", category="quake_tsunami", priority=0)  # set by its producer
    at = datetime.now(UTC) + timedelta(seconds=1)

    order = []
    while (claimed := _claim(harness, "w", at=at)) is not None:
        order.append(claimed[0].notification_id)
    lanes = [tsunami, eew, evacuation, warning, notice]  # same lane: the one waiting longest first
    assert order == [nid for nid in lanes for _ in range(2)]

    harness.db.clean()
    for _ in range(2 * BATCH):
        harness.subscribe(KOCHI_KENCHO)
    notice = harness.notify(**target, severity="info")
    evacuation = harness.notify(**target, severity="emergency", category="evacuation")
    tsunami = harness.notify(**target, severity="emergency", category="quake_tsunami")
    at = datetime.now(UTC) + timedelta(seconds=1)
    fair = [_claim(harness, "w", at=at, oldest_first=True) for _ in range(3)]
    # the fair claim still never passes over lane 0, then takes the longest-waiting batch of any lane
    assert [c[0].notification_id for c in fair if c] == [tsunami, tsunami, notice]


def test_priority_urgency_and_ttl_follow_the_kind_of_message(harness: Harness) -> None:
    def draft(**kw: object) -> service.NotificationDraft:
        values: dict[str, object] = {
            "source": "test",
            "category": "area_info",
            "severity": "info",
            "title": {"ja": "t"},
            "body": {},
            "municipality_codes": ["39201"],
        }
        values.update(kw)
        return service.NotificationDraft(**values)  # type: ignore[arg-type]

    assert draft(category="quake_tsunami", severity="warning").lane() == service.PRIORITY_LIFE
    assert draft(category="evacuation", severity="emergency").lane() == service.PRIORITY_EMERGENCY
    assert draft(category="weather", severity="warning").lane() == service.PRIORITY_WARNING
    assert draft(severity="advisory").lane() == service.PRIORITY_ROUTINE
    assert draft(priority=0).lane() == 0
    with harness.db.sessionmaker() as s, pytest.raises(ValidationProblem) as problem:
        service.create_notification(s, draft(priority=7), settings=harness.settings)
    assert problem.value.field == "priority"

    r = harness.subscribe(KOCHI_KENCHO)
    info = harness.notify(target={"municipality_codes": ["39201"]}, severity="info")
    alarm = harness.notify(target={"municipality_codes": ["39201"]}, severity="emergency", category="evacuation")
    eew = harness.notify(
        target={"municipality_codes": ["39201"]},
        severity="emergency",
        category="quake_tsunami",
        priority=0,
        ttl_seconds=service.TTL_EEW_S,
    )
    harness.run_worker([info, alarm, eew])
    got = {m.json()["id"]: m for m in harness.push.received(r.device)}
    assert got[str(info)].urgency == "low" and 86000 < got[str(info)].ttl <= 86400
    assert got[str(alarm)].urgency == "high" and 3 * 3600 < got[str(alarm)].ttl <= service.TTL_WARNING_S
    assert got[str(eew)].urgency == "high" and got[str(eew)].ttl <= service.TTL_EEW_S
    with harness.db.sessionmaker() as s:
        lanes = dict(s.execute(select(DeliveryBatch.notification_id, DeliveryBatch.priority)).all())
    assert lanes == {info: 3, alarm: 1, eew: 0}


def test_a_checkpoint_mid_batch_counts_who_got_it_and_only_for_the_lease_holder(harness: Harness) -> None:
    residents, nid, now, claim = _leased_briefly(harness, 4)
    stale = (claim,)
    with harness.db.sessionmaker() as s:
        assert service.record_progress(s, stale[0], [residents[0].id, residents[1].id]) is True
        s.commit()
    assert harness.status(nid)["sent"] == 2
    fresh = _claim(harness, "successor", at=now + timedelta(seconds=2))
    assert fresh is not None and sorted(fresh[0].pending_ids) == sorted(r.id for r in residents[2:])
    with harness.db.sessionmaker() as s:
        assert service.record_progress(s, stale[0], [residents[2].id]) is False
        s.commit()
    assert harness.status(nid)["sent"] == 2


def test_a_resident_written_down_twice_counts_once_in_the_console_and_in_who_received(harness: Harness) -> None:
    """A checkpoint repeated (its commit failed after the server wrote it, say) or naming someone who
    is not pending in the batch moves and counts only who is still pending."""
    residents, nid, _now, claim = _leased_briefly(harness, 4)
    stranger = harness.subscribe(KOCHI_KENCHO)  # subscribed after the batch was cut: not in it
    with harness.db.sessionmaker() as s:
        assert service.record_progress(s, claim, [residents[0].id, residents[1].id]) is True
        assert service.record_progress(s, claim, [residents[1].id, residents[2].id, stranger.id]) is True
        s.commit()
    assert harness.status(nid)["sent"] == 3
    sent = {r.id: PushResult(Outcome.SENT, 201, "") for r in residents}
    with harness.db.sessionmaker() as s:
        assert service.record_results(s, claim, sent) is True
        s.commit()
    assert harness.status(nid)["sent"] == 4
    with harness.db.sessionmaker() as s:
        assert service.recipients_who_received(s, nid) == sorted(r.id for r in residents)
        (written,) = s.execute(select(DeliveryBatch.sent_ids).where(DeliveryBatch.id == claim.batch_id)).one()
    assert sorted(written) == sorted(r.id for r in residents)
