"""Operator messages: preview, send (or hold for approval / a schedule), approve, cancel, correct.

Services take ``db_session`` and never commit: the request boundary commits the message row, its
audit entry and delivery's batches together, so a message is either fully accepted or not at all.

Status of a message (``OperatorMessage.status``):
``awaiting_approval`` → ``expired`` (nobody approved in time; nothing was sent) or ``scheduled``/``sent``;
``scheduled`` → ``sent`` when its time comes; ``sent`` is handed to delivery (see ``delivery.status``);
any of these → ``cancelled`` or ``corrected``. Expiry is applied whenever messages are read or
acted on (``refresh``), so what the author sees is always current.

This module is the domain's public face, what other domains import; the work is done in ``sending``
(texts, preview, accepting and dispatching a message), ``lifecycle`` (expiry, approval, cancellation and
correction) and ``reach`` (what one operator reaches and when that needs a second operator).
"""

from __future__ import annotations

from pushsvc.operators.lifecycle import approve, cancel_or_correct, get_message, refresh, status_of
from pushsvc.operators.reach import Reach, reach_needing_approval, scope_of, touched_codes
from pushsvc.operators.sending import preview, submit, texts

__all__ = [
    "Reach",
    "approve",
    "cancel_or_correct",
    "get_message",
    "preview",
    "reach_needing_approval",
    "refresh",
    "scope_of",
    "status_of",
    "submit",
    "texts",
    "touched_codes",
]
