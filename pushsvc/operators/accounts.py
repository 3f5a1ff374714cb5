"""Operator accounts, their tokens, server-side scope and the append-only audit log.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored, so a copy of the
database cannot be used to send. Scope is checked here, on the server, against the municipalities
a target touches — never against what the client says it touches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.operators.models import MUNICIPALITY, PREFECTURE, AuditEntry
from pushsvc.operators.models import Operator as Operator  # handed out: others may name the type
from pushsvc.types import text_problem

TOKEN_PREFIX = "pso_"
ROLES = (PREFECTURE, MUNICIPALITY)
_NAME = re.compile(r"^[^\s,][^,]{0,79}$")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def audit(
    db_session: Session,
    action: str,
    *,
    operator: Operator | None = None,
    message_id: int | None = None,
    now: datetime | None = None,
    **detail: Any,
) -> None:
    """Append one entry; it is written (or not) with the action it records, in the same transaction."""
    db_session.add(
        AuditEntry(
            at=now or datetime.now(UTC),
            operator_id=operator.id if operator else None,
            operator_name=operator.name if operator else None,
            action=action,
            message_id=message_id,
            detail=detail,
        )
    )


def create_operator(
    db_session: Session, *, name: str, role: str, municipalities: Collection[str] = (), prefecture: str = "39"
) -> tuple[Operator, str]:
    """A new operator and their token (returned once, never stored in clear)."""
    problem = text_problem(name, multiline=False)
    if problem:
        raise ValidationProblem(problem, field="name")
    name = unicodedata.normalize("NFC", name.strip())
    if not _NAME.match(name):
        raise ValidationProblem("name must be 1–80 characters, without commas", field="name")
    if role not in ROLES:
        raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
    codes = sorted(set(municipalities))
    if role == PREFECTURE and codes:
        raise ValidationProblem("prefecture operators reach every municipality; give no list", field="municipalities")
    if role == MUNICIPALITY:
        if not codes:
            raise ValidationProblem("a municipal operator needs at least one municipality code", field="municipalities")
        known = geo_service.places_by_code(db_session, codes)
        unknown = [c for c in codes if c not in known or not c.startswith(prefecture)]
        if unknown:
            raise ValidationProblem(f"unknown municipality codes: {', '.join(unknown)}", field="municipalities")
    if db_session.execute(select(Operator.id).where(Operator.name == name)).first():
        raise Conflict(f"an operator named {name!r} already exists", field="name")
    token = new_token()
    op = Operator(
        name=name, role=role, municipalities=codes, token_hash=hash_token(token), created_at=datetime.now(UTC)
    )
    db_session.add(op)
    db_session.flush()
    audit(
        db_session,
        "operator.create",
        message_id=None,
        operator_name=name,
        role=role,
        municipalities=codes,
        new_operator_id=op.id,
    )
    return op, token


def any_operator(db_session: Session) -> bool:
    """Whether an operator account was ever created (revoked ones count: rows are never deleted)."""
    return db_session.execute(select(Operator.id).limit(1)).first() is not None


def check_bootstrap_token(db_session: Session, settings: Settings, authorization: str | None) -> None:
    """The bootstrap ``PUSHSVC_ADMIN_TOKEN`` is good only while no operator account exists.

    404 when it is not configured, 401 for a wrong token, 403 once the first operator exists: from then on
    every path to residents goes through operators, with their scope, approval and audit.
    """
    if settings.admin_token is None:
        raise NotFound("the bootstrap API is not enabled on this server (PUSHSVC_ADMIN_TOKEN is unset)")
    expected = f"Bearer {settings.admin_token.get_secret_value()}"
    if not authorization or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise Unauthorized("a valid bearer token is required", field="Authorization")
    if any_operator(db_session):
        raise Forbidden(
            "the bootstrap token stopped working when the first operator account was created; use an operator token",
            field="Authorization",
        )


def bootstrap_operator(
    db_session: Session, settings: Settings, authorization: str | None, *, name: str
) -> tuple[Operator, str]:
    """The first (prefecture) operator, made with the bootstrap token; after it the token is dead."""
    check_bootstrap_token(db_session, settings, authorization)
    op, token = create_operator(db_session, name=name, role=PREFECTURE, prefecture=settings.prefecture)
    audit(db_session, "operator.bootstrap", operator=op, note="first operator, created with the bootstrap token")
    return op, token


def revoke_operator(db_session: Session, name: str) -> Operator:
    op = db_session.execute(select(Operator).where(Operator.name == name)).scalar_one_or_none()
    if op is None:
        raise NotFound(f"no operator named {name!r}", field="name")
    if op.revoked_at is None:
        op.revoked_at = datetime.now(UTC)
        audit(db_session, "operator.revoke", revoked_operator_id=op.id, operator_name=name)
    return op


def authenticate(db_session: Session, token: str) -> tuple[Operator | None, str]:
    """The operator a token belongs to, or None and why (``unknown`` / ``revoked``)."""
    digest = hash_token(token)
    op = db_session.execute(select(Operator).where(Operator.token_hash == digest)).scalar_one_or_none()
    if op is None or not hmac.compare_digest(op.token_hash, digest):
        return None, "unknown"
    if op.revoked_at is not None:
        return None, "revoked"
    return op, "ok"


def is_prefecture(op: Operator) -> bool:
    """A prefecture operator reaches every municipality (and prefecture-wide audiences)."""
    return op.role == PREFECTURE


def in_scope(op: Operator, codes: Collection[str]) -> bool:
    return is_prefecture(op) or set(codes) <= set(op.municipalities)


def ensure_scope(op: Operator, codes: Collection[str], *, field: str = "target") -> None:
    """403 unless every municipality the target touches is one the operator may reach."""
    if not in_scope(op, codes):
        outside = sorted(set(codes) - set(op.municipalities))
        raise Forbidden(f"operator {op.name!r} may not reach municipalities {', '.join(outside)}", field=field)


def require_prefecture(op: Operator, what: str) -> None:
    if not is_prefecture(op):
        raise Forbidden(f"{what} is for prefecture operators only")


def list_audit(
    db_session: Session,
    *,
    action: str | None = None,
    operator_id: int | None = None,
    message_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if operator_id is not None:
        stmt = stmt.where(AuditEntry.operator_id == operator_id)
    if message_id is not None:
        stmt = stmt.where(AuditEntry.message_id == message_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    return list(db_session.execute(stmt).scalars())
