"""``CurrentOperator``: Bearer-token authentication and rate limits (per operator, and failed logins per address).

A failed token is audited in its own transaction, because the request's own transaction is rolled
back with the 401 it raises.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from pushsvc.db import session_scope
from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import TooManyRequests, Unauthorized, limiter_of
from pushsvc.operators import accounts
from pushsvc.operators.models import Operator


def current_operator(
    request: Request,
    db_session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Operator:
    """The operator of a valid token. Failed tokens are limited per client address and audited once per burst.

    An address over its failure limit gets 429 without its token being looked at, so guesses cannot go on;
    the first failure of a burst (none in the minute before) writes one audit row, so a flood of guesses
    cannot flood the audit log either.
    """
    challenge = {"WWW-Authenticate": 'Bearer realm="pushsvc-operators"'}
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "an operator token is required: Authorization: Bearer <token>", field="Authorization", headers=challenge
        )
    address = request.client.host if request.client else "unknown"
    failures = limiter_of(request.app.state, "operator_login_failures", settings.operator_login_failures_per_minute)
    wait = failures.wait(address)
    if wait is not None:
        raise TooManyRequests(
            f"too many failed operator logins from this address; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(max(1, int(wait) + 1))},
        )
    op, why = accounts.authenticate(db_session, token.strip())
    if op is None:
        if failures.hit(address) == 1:
            with session_scope(request.app.state.sessionmaker) as s:
                accounts.audit(
                    s,
                    "auth.failure",
                    reason=why,
                    method=request.method,
                    path=request.url.path,
                    address=address,
                    limit_per_minute=failures.per_minute,
                    note="first failure of a burst; later ones within a minute are not audited",
                )
        raise Unauthorized(f"the operator token is {why}", field="Authorization", headers=challenge)
    limiter_of(request.app.state, "operator_rate_limiter", settings.operator_rate_limit_per_minute).enforce(
        op.id, f"operator {op.name!r} exceeded {settings.operator_rate_limit_per_minute} requests per minute"
    )
    return op


CurrentOperator = Annotated[Operator, Depends(current_operator)]


def require_bootstrap_admin(
    db_session: SessionDep, settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The bootstrap token, and only while no operator account exists (then 403: use ``/api/v1/messages``)."""
    accounts.check_bootstrap_token(db_session, settings, authorization)
