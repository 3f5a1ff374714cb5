"""A cancellation reaches residents whom a batch already in a worker's hands reached after it was sent."""

from __future__ import annotations

from pushsvc.db import session_scope
from pushsvc.delivery import service
from pushsvc.webpush.sender import Outcome, PushResult
from tests.fixtures.delivery import KOCHI_KENCHO, Harness


def test_residents_reached_by_an_in_flight_batch_get_the_cancellation_too(harness: Harness) -> None:
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(4)]
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": 2})
    harness.app.state.settings = harness.settings
    nid = harness.notify(target={"municipality_codes": ["39201"]}, title={"ja": "断水"})

    with session_scope(harness.db.sessionmaker) as s:  # a worker leases one batch and starts sending
        claimed = service.claim_batch(s, worker_id="slow-worker", lease_seconds=60)
    assert claimed is not None
    claim, _ = claimed

    with session_scope(harness.db.sessionmaker) as s:  # meanwhile the message is cancelled
        service.cancel_notification(s, nid)
        assert service.recipients_who_received(s, nid) == []  # nobody has it yet...
        assert service.batches_in_flight(s, nid) == 1  # ...but one batch may still deliver it
        follow_up = service.create_notification(
            s,
            service.NotificationDraft(
                source="operator",
                category="area_info",
                severity="info",
                title={"ja": "【取消】断水"},
                body={"ja": "先ほどのお知らせは取り消されました"},
                recipient_ids=[],
                reference_id=nid,
            ),
            settings=harness.settings,
        )
        follow_up_id = follow_up.id
        assert follow_up.status == "done"  # addressed to nobody, for now

    with session_scope(harness.db.sessionmaker) as s:  # the slow worker reports: its two got the original
        service.record_results(s, claim, {sid: PushResult(Outcome.SENT, 201, "") for sid in claim.pending_ids})

    harness.run_worker(follow_up_id)
    reached = {r.id for r in residents if harness.push.received(r.device)}
    assert reached == set(claim.pending_ids)
    status = harness.status(follow_up_id)
    assert (status["status"], status["targeted"], status["sent"]) == ("done", 2, 2)
    assert harness.status(nid)["status"] == "cancelled"
