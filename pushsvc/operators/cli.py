"""``pushsvc operators …``: create operators (the token is printed once, alone on the last line) and revoke them."""

from __future__ import annotations

import click

from pushsvc.clitools import migrated_sessions, print_token, transaction_or_exit
from pushsvc.config import get_settings
from pushsvc.db import session_scope


@click.group("operators")
def operators() -> None:
    """Prefecture and municipal operators who send messages."""


@operators.command("create")
@click.option("--name", required=True, help="unique name, e.g. kochi-city-bousai-1")
@click.option("--role", required=True, type=click.Choice(["prefecture", "municipality"]))
@click.option("--municipalities", default="", help="comma-separated 5-digit codes (municipality role)")
def create(name: str, role: str, municipalities: str) -> None:
    """Create an operator and print their API token once (stored hashed; it cannot be shown again)."""
    from pushsvc.operators import accounts

    codes = [c.strip() for c in municipalities.split(",") if c.strip()]
    with transaction_or_exit(with_field=True) as s:
        op, token = accounts.create_operator(
            s, name=name, role=role, municipalities=codes, prefecture=get_settings().prefecture
        )
        summary = f"created operator {op.id} {op.name} ({op.role}{': ' + ','.join(codes) if codes else ''})"
    print_token(summary, token, "store it in a password manager")


@operators.command("list")
def list_command() -> None:
    """List operators: name, role, municipalities, created, revoked (never tokens: only their hashes exist)."""
    from sqlalchemy import select

    from pushsvc.operators.models import Operator

    with session_scope(migrated_sessions()) as s:
        rows = s.scalars(select(Operator).order_by(Operator.name)).all()
        if not rows:
            click.echo("no operators yet: create one with `pushsvc operators create`")
        for op in rows:
            scope = ",".join(op.municipalities) if op.municipalities else "all"
            state = f"revoked {op.revoked_at.isoformat()}" if op.revoked_at else "active"
            click.echo(f"{op.name}\t{op.role}\t{scope}\tcreated {op.created_at.isoformat()}\t{state}")


@operators.command("revoke")
@click.option("--name", required=True)
def revoke(name: str) -> None:
    """Revoke an operator's token at once (their history and audit entries stay)."""
    from pushsvc.operators import accounts

    with transaction_or_exit() as s:
        accounts.revoke_operator(s, name)
    click.echo(f"revoked operator {name}")
