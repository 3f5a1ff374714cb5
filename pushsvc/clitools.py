"""What the domains' admin commands share: a migrated database, a refusal printed as ``error: …`` with
exit status 2, and a new token printed once, alone on the last line (so a script can take that line).

It imports no domain, so each domain's ``cli.py`` can use it while ``pushsvc/cli.py`` wires them in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session, sessionmaker

from pushsvc.config import get_settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.errors import ProblemError


def migrated_sessions() -> sessionmaker[Session]:
    """Sessions on the configured database, upgraded first: an admin command may run before the server ever has."""
    from pushsvc.migrate import upgrade

    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    return make_sessionmaker(engine)


@contextmanager
def transaction_or_exit(*, with_field: bool = False) -> Iterator[Session]:
    """One transaction on ``migrated_sessions``; a refusal (``ProblemError``) rolls it back and is printed
    to stderr as ``error: detail`` (``error: field: detail`` ``with_field``), and the command exits 2."""
    try:
        with session_scope(migrated_sessions()) as session:
            yield session
    except ProblemError as exc:
        click.echo(f"error: {exc.field}: {exc.detail}" if with_field else f"error: {exc.detail}", err=True)
        sys.exit(2)


def print_token(summary: str, token: str, keep: str) -> None:
    """What was created, then its token alone on the last line: it is stored hashed, so this is the only time."""
    click.echo(summary)
    click.echo(f"the token below is shown only now; {keep}:")
    click.echo(token)
