"""Wiring of the server's VAPID key: load it at start and refuse a silent change.

Browsers bind each subscription to the public key they were given; a new key means every existing
subscription stops working without any error the resident could see. So the key's fingerprint is
recorded in the database, and starting with a different key needs ``pushsvc serve --rotate-vapid``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pushsvc.config import Settings
from pushsvc.db import session_scope
from pushsvc.webpush.models import VapidKeyRecord
from pushsvc.webpush.vapid import VapidIdentity, load_or_create

log = logging.getLogger(__name__)


class VapidKeyChanged(RuntimeError):
    """The key differs from the one subscribers were given; start with --rotate-vapid to accept it."""


def load_identity(settings: Settings) -> VapidIdentity:
    """From ``PUSHSVC_VAPID_PRIVATE_KEY`` if given, else the key file (created, mode 0600, if absent)."""
    if settings.vapid_private_key is not None:
        return VapidIdentity.from_text(settings.vapid_private_key.get_secret_value())
    path = settings.vapid_key_file
    try:
        identity, created = load_or_create(path)
    except FileExistsError:  # another worker created it between our check and our create
        return VapidIdentity.from_text(path.read_text())
    if created:
        log.warning("created a new VAPID key at %s: back it up, losing it breaks every subscriber", path)
    return identity


def check_identity(
    db_session: Session,
    identity: VapidIdentity,
    *,
    rotate: bool = False,
) -> Literal["recorded", "unchanged", "rotated"]:
    """Record the key on first start; raise VapidKeyChanged if it changed, unless rotating."""
    record = db_session.get(VapidKeyRecord, 1)
    if record is None:
        try:
            with db_session.begin_nested():
                db_session.add(
                    VapidKeyRecord(
                        id=1,
                        fingerprint=identity.fingerprint,
                        public_key=identity.public_key_b64url,
                        updated_at=datetime.now(UTC),
                    )
                )
            return "recorded"
        except IntegrityError:  # a second worker recorded it first: compare with theirs
            record = db_session.get(VapidKeyRecord, 1, populate_existing=True)
            if record is None:
                raise
    if record.fingerprint == identity.fingerprint:
        return "unchanged"
    if not rotate:
        raise VapidKeyChanged(
            f"the VAPID key ({identity.fingerprint}) differs from the one subscribers were given "
            f"({record.fingerprint}); every existing subscription would silently stop working. Restore "
            "the old key, or start with `pushsvc serve --rotate-vapid` to accept the change."
        )
    log.warning(
        "VAPID key rotated %s -> %s: existing subscribers must subscribe again",
        record.fingerprint,
        identity.fingerprint,
    )
    record.fingerprint = identity.fingerprint
    record.public_key = identity.public_key_b64url
    record.updated_at = datetime.now(UTC)
    db_session.flush()
    return "rotated"


def start(settings: Settings, factory: sessionmaker[Session], *, rotate: bool = False) -> VapidIdentity:
    """Load the key and check it against the record; an unreachable database is /healthz's to report."""
    identity = load_identity(settings)
    try:
        with session_scope(factory) as db_session:
            check_identity(db_session, identity, rotate=rotate)
    except OperationalError as exc:
        log.warning("could not check the VAPID key against the database: %s", exc)
    return identity
