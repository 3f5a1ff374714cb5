"""Delivery service: accept a notification, split its recipients into leased batches, record outcomes.

The domain's public face (other domains import only this module); the work is split by stage:
``drafts`` (vocabulary), ``enqueue`` (accept, cancel), ``claim`` (leases), ``record`` (results,
follow-ups), ``progress`` (mid-batch checkpoints), ``queries`` (read-only).

Acceptance is one transaction: the notification, its resolved recipients and every batch are written
together, so a crash either loses the whole request (the caller saw an error) or loses nothing.
Workers then lease batches; a killed worker's lease runs out and another worker takes the batch.
Only that batch can be sent twice, and the Topic header lets push services collapse the duplicate.

Claiming, sending and recording are separate short transactions (no transaction is open while a
worker waits on the network or sleeps), a lease is short and renewed while its batch is in flight, and
``record_results`` writes only for the worker that still holds the lease for the attempt it made: a
worker that froze and woke up late cannot overwrite what its successor did.

Priority lanes (``DeliveryBatch.priority``, copied from ``Notification.priority``; lower goes first):

====  ===========================  =====================================================================
lane  constant                     what
====  ===========================  =====================================================================
0     ``PRIORITY_LIFE``            緊急地震速報 (EEW) and tsunami warnings: producers set it explicitly;
                                   by default any ``quake_tsunami`` warning or emergency
1     ``PRIORITY_EMERGENCY``       other emergencies (警戒レベル4 and above: 避難指示, 緊急安全確保, 特別警報)
2     ``PRIORITY_WARNING``         warnings
3     ``PRIORITY_ROUTINE``         advisories and information
====  ===========================  =====================================================================

Workers always claim the most urgent due batch; one claim in ``FAIR_EVERY`` takes the oldest due batch
below lane 0 instead, so a long emergency fan-out never starves routine messages forever, while lane 0
is never passed over. TTL per kind when the producer gives none: ``TTL_EEW_S`` (minutes; EEW producers
pass it), warnings and emergencies ``TTL_WARNING_S`` (hours), the rest a day.

Quiet hours never hold a message: within a resident's quiet hours ``info``/``advisory`` go out at once
as silent notifications (the worker marks the payload), warnings and emergencies ring, and follow-ups
(corrections, 取消, 解除) are sent at once like everything else.
"""

from __future__ import annotations

from pushsvc.delivery.claim import (
    bound_transaction,
    claim_batch,
    renew_lease,
)
from pushsvc.delivery.drafts import (
    FAIR_EVERY,
    FINAL_STATUSES,
    LAST_CHANCE_S,
    PRIORITIES,
    PRIORITY_EMERGENCY,
    PRIORITY_LIFE,
    PRIORITY_ROUTINE,
    PRIORITY_WARNING,
    QUIET_HOURS_APPLY,
    SEVERITIES,
    TTL_EEW_S,
    TTL_NOTICE_S,
    TTL_WARNING_S,
    URGENCY,
    ClaimedBatch,
    Message,
    NotificationDraft,
    default_priority,
    default_ttl,
)
from pushsvc.delivery.enqueue import (
    RESUME_AFTER_S,
    WAKE_CHANNEL,
    append_recipients,
    cancel_notification,
    create_notification,
    get_notification,
    message_for,
    references_of,
    resume_appending,
    wake_workers,
)
from pushsvc.delivery.models import Notification as Notification  # handed out: others may name the type
from pushsvc.delivery.progress import record_progress, record_progress_many
from pushsvc.delivery.queries import (
    KNOWN_DEAD_MIN_MESSAGES,
    KNOWN_DEAD_WINDOW,
    active_alerts,
    active_alerts_version,
    amend_body,
    delivery_stats,
    known_dead,
    oldest_due_at,
    public_alert,
    push_outcome_counts,
    queue_depth,
    recent_alerts,
    send_timings,
)
from pushsvc.delivery.record import (
    batches_in_flight,
    failures_of,
    recipients_who_received,
    record_results,
)

__all__ = [
    "FAIR_EVERY",
    "FINAL_STATUSES",
    "KNOWN_DEAD_MIN_MESSAGES",
    "KNOWN_DEAD_WINDOW",
    "LAST_CHANCE_S",
    "PRIORITIES",
    "PRIORITY_EMERGENCY",
    "PRIORITY_LIFE",
    "PRIORITY_ROUTINE",
    "PRIORITY_WARNING",
    "QUIET_HOURS_APPLY",
    "RESUME_AFTER_S",
    "SEVERITIES",
    "TTL_EEW_S",
    "TTL_NOTICE_S",
    "TTL_WARNING_S",
    "URGENCY",
    "WAKE_CHANNEL",
    "ClaimedBatch",
    "Message",
    "Notification",
    "NotificationDraft",
    "active_alerts",
    "active_alerts_version",
    "amend_body",
    "append_recipients",
    "batches_in_flight",
    "bound_transaction",
    "cancel_notification",
    "claim_batch",
    "create_notification",
    "default_priority",
    "default_ttl",
    "delivery_stats",
    "failures_of",
    "get_notification",
    "known_dead",
    "message_for",
    "oldest_due_at",
    "public_alert",
    "push_outcome_counts",
    "queue_depth",
    "recent_alerts",
    "recipients_who_received",
    "record_progress",
    "record_progress_many",
    "record_results",
    "references_of",
    "renew_lease",
    "resume_appending",
    "send_timings",
    "wake_workers",
]
