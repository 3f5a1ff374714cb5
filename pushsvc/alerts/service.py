"""Alert-state service: apply what a source says, get back the changes to tell residents. Never commits.

See the package docstring for the interface and the rules.

This module is the domain's public face, what other domains import; the work is done in ``statements``
(applying, cancelling and correcting statements), ``current`` (what is in force, history, silent sources)
and ``records`` (the rows and transitions both write).
"""

from __future__ import annotations

from pushsvc.alerts.current import expire_silent, history, in_force, mark_stale, stale_sources, version
from pushsvc.alerts.records import IN_FORCE
from pushsvc.alerts.statements import apply_statement, attach_notification, cancel_statement, correct_statement

__all__ = [
    "IN_FORCE",
    "apply_statement",
    "attach_notification",
    "cancel_statement",
    "correct_statement",
    "expire_silent",
    "history",
    "in_force",
    "mark_stale",
    "stale_sources",
    "version",
]
