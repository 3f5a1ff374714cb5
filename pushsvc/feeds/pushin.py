"""Telegrams pushed in by a licensed relay: the path 緊急地震速報 needs (JMA's Atom feeds refresh ~once a minute).

Each relay has its own token (shown once, only its SHA-256 stored, revocable), created like operator tokens
(``pushsvc feeds push-sources create``). A telegram is parsed with the same defusedxml rules and handled by
the same ``service.ingest_jma_telegram`` as a polled one; its identity (office, title, report time, EventID,
serial, info type, status) keys it, so a relay's retry or a second relay sending the same telegram does
nothing the second time. Everything pushed in shares one stored state, ``jma-push``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.db import after_commit, is_postgres
from pushsvc.delivery import service as delivery
from pushsvc.errors import Conflict, NotFound, Unauthorized, ValidationProblem
from pushsvc.feeds import service
from pushsvc.feeds.jma import AreaResolver, Telegram, load_area_dir, parse_telegram
from pushsvc.feeds.models import FeedPushSource, FeedSource
from pushsvc.feeds.service import SentAlert
from pushsvc.operators import accounts

log = logging.getLogger(__name__)

STATE_SOURCE = "jma-push"
TOKEN_PREFIX = "psr_"
SEEN_KEEP = 5000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_source(db_session: Session, name: str, *, now: datetime) -> tuple[FeedPushSource, str]:
    """A relay allowed to push, and its token (returned once, never stored in clear)."""
    if not _NAME.match(name):
        raise ValidationProblem("name must be 1–64 letters, digits, '.', '_' or '-'", field="name")
    if db_session.execute(select(FeedPushSource.id).where(FeedPushSource.name == name)).first():
        raise Conflict(f"a push source named {name!r} already exists", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    src = FeedPushSource(name=name, token_hash=_hash(token), created_at=now)
    db_session.add(src)
    db_session.flush()
    accounts.audit(db_session, "push_source.create", now=now, push_source=name)
    return src, token


def revoke_source(db_session: Session, name: str, *, now: datetime) -> FeedPushSource:
    src = db_session.execute(select(FeedPushSource).where(FeedPushSource.name == name)).scalar_one_or_none()
    if src is None:
        raise NotFound(f"no push source named {name!r}", field="name")
    if src.revoked_at is None:
        src.revoked_at = now
        accounts.audit(db_session, "push_source.revoke", now=now, push_source=name)
    return src


def list_sources(db_session: Session) -> list[FeedPushSource]:
    return list(db_session.execute(select(FeedPushSource).order_by(FeedPushSource.name)).scalars())


def authenticate(db_session: Session, authorization: str | None) -> FeedPushSource:
    """The relay a ``Bearer`` token belongs to; 401 for anything else, revoked tokens included."""
    scheme, _, token = (authorization or "").partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <push-source token>'", field="authorization", headers=challenge)
    digest = _hash(token.strip())
    src = db_session.execute(select(FeedPushSource).where(FeedPushSource.token_hash == digest)).scalar_one_or_none()
    if src is None or not hmac.compare_digest(src.token_hash, digest) or src.revoked_at is not None:
        raise Unauthorized("unknown or revoked push-source token", field="authorization", headers=challenge)
    return src


def telegram_identity(t: Telegram) -> str:
    """What makes two deliveries the same telegram, whatever the bytes (a relay may re-encode)."""
    c, h = t.control, t.head
    key = "|".join(
        (
            c.title,
            c.editorial_office,
            c.status,
            h.title,
            h.report_datetime.isoformat(),
            h.event_id,
            h.info_type,
            h.serial,
        )
    )
    return "jmx:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@cache
def resolver_for(codes_dir: Path, prefecture: str) -> AreaResolver:
    return load_area_dir(codes_dir, prefecture=prefecture)


def _state_row(db_session: Session, now: datetime) -> FeedSource:
    """The one stored state of pushed-in telegrams, locked on PostgreSQL so relays are handled one at a time."""
    stmt = select(FeedSource).where(FeedSource.name == STATE_SOURCE)
    if is_postgres(db_session):
        stmt = stmt.with_for_update()
    row = db_session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        row = FeedSource(
            name=STATE_SOURCE,
            kind="jma_push",
            url="push:",
            interval_s=0.0,
            state={},
            created_at=now,
            consecutive_failures=0,
        )
        db_session.add(row)
        db_session.flush()
    return row


@dataclass(frozen=True)
class Accepted:
    telegram_id: str
    title: str
    duplicate: bool
    sent: list[SentAlert]

    def recount(self, db_session: Session) -> None:
        """Recipients as finally counted: a first-batch-early notification (緊急地震速報, tsunami) had
        only its first batch counted when it was accepted, the rest after the commit."""
        self.sent[:] = [
            replace(s, targeted=delivery.get_notification(db_session, s.notification_id).targeted)
            if s.notification_id
            else s
            for s in self.sent
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "telegram_id": self.telegram_id,
            "title": self.title,
            "duplicate": self.duplicate,
            "notifications": [
                {
                    "key": s.key,
                    "notification_id": s.notification_id,
                    "targeted": s.targeted,
                    "municipalities": list(s.municipalities),
                    "summary": s.summary,
                }
                for s in self.sent
            ],
        }


def accept(
    db_session: Session, data: bytes, authorization: str | None, *, settings: Settings, now: datetime
) -> Accepted:
    """Authenticate, parse (422 problem on anything unusable, nothing stored), dedupe, then ingest as polled."""
    src = authenticate(db_session, authorization)
    if len(data) > settings.jma_push_max_bytes:
        raise ValidationProblem(f"telegram of {len(data)} bytes is over {settings.jma_push_max_bytes}", field="body")
    try:
        parsed = parse_telegram(data)
    except ValidationProblem:
        raise
    except Exception as exc:  # TelegramError is a 422 problem already; keep its message, name the field
        raise ValidationProblem(str(exc), field="body", title="Unusable JMA telegram") from exc
    identity = telegram_identity(parsed)
    telegram = replace(parsed, telegram_id=identity)  # not parsed twice: this is a 緊急地震速報's path
    row = _state_row(db_session, now)
    seen = list(row.state.get("seen", []))
    src.last_used_at = now
    if identity in seen:
        return Accepted(identity, telegram.control.title, True, [])
    sent = service.ingest_jma_telegram(
        db_session, row, telegram, resolver_for(settings.jma_codes_dir, settings.prefecture), settings=settings, now=now
    )
    row.state = {**row.state, "seen": [*seen, identity][-SEEN_KEEP:]}
    row.last_attempt_at = row.last_success_at = row.last_change_at = now
    log.info("push source %s: %s %s → %d notifications", src.name, telegram.control.title, identity, len(sent))
    db_session.flush()
    accepted = Accepted(identity, telegram.control.title, False, sent)
    if any(s.notification_id for s in sent):
        after_commit(db_session, accepted.recount)  # after delivery's own steps: a tsunami's full count
    return accepted
