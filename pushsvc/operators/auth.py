"""``CurrentOperator``: Bearer-token authentication and per-operator rate limits for every operator route.

A failed token is audited in its own transaction, because the request's own transaction is rolled
back with the 401 it raises.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated

from fastapi import Depends, Header, Request

from pushsvc.db import session_scope
from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import ProblemError, Unauthorized
from pushsvc.operators import accounts
from pushsvc.operators.models import Operator


class TooManyRequests(ProblemError):
    status = 429
    title = "Too many requests"
    slug = "too-many-requests"


class RateLimiter:
    """A sliding one-minute window per operator, per process (several API processes each allow the limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, operator_id: int, now: float | None = None) -> float | None:
        """None if allowed (and counted); otherwise seconds until the next request would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[operator_id]
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return 60 - (now - hits[0])
            hits.append(now)
            return None


def _limiter(request: Request, per_minute: int) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "operator_rate_limiter", None)
    if limiter is None or limiter.per_minute != per_minute:
        limiter = RateLimiter(per_minute)
        request.app.state.operator_rate_limiter = limiter
    return limiter


def current_operator(
    request: Request, db_session: SessionDep, settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Operator:
    challenge = {"WWW-Authenticate": 'Bearer realm="pushsvc-operators"'}
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an operator token is required: Authorization: Bearer <token>",
                           field="Authorization", headers=challenge)
    op, why = accounts.authenticate(db_session, token.strip())
    if op is None:
        with session_scope(request.app.state.sessionmaker) as s:
            accounts.audit(s, "auth.failure", reason=why, method=request.method, path=request.url.path)
        raise Unauthorized(f"the operator token is {why}", field="Authorization", headers=challenge)
    wait = _limiter(request, settings.operator_rate_limit_per_minute).check(op.id)
    if wait is not None:
        raise TooManyRequests(f"operator {op.name!r} exceeded {settings.operator_rate_limit_per_minute} "
                              "requests per minute", headers={"Retry-After": str(max(1, int(wait) + 1))})
    return op


CurrentOperator = Annotated[Operator, Depends(current_operator)]
