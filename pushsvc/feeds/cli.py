"""``pushsvc push-sources …``: the relays allowed to push JMA telegrams in (token printed once, alone on its line)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from pushsvc.clitools import migrated_sessions, print_token, transaction_or_exit
from pushsvc.db import session_scope


@click.group("push-sources")
def push_sources() -> None:
    """Licensed relays that POST raw JMA telegrams to /api/v1/feeds/jma/telegrams."""


@push_sources.command("create")
@click.option("--name", required=True, help="unique name, e.g. relay-kochi-1")
def create(name: str) -> None:
    """Create a push source and print its token once (stored hashed; it cannot be shown again)."""
    from pushsvc.feeds import pushin

    with transaction_or_exit(with_field=True) as s:
        src, token = pushin.create_source(s, name, now=datetime.now(UTC))
        summary = f"created push source {src.id} {src.name}"
    print_token(summary, token, "give it to the relay as 'Authorization: Bearer <token>'")


@push_sources.command("revoke")
@click.option("--name", required=True)
def revoke(name: str) -> None:
    """Revoke a push source's token at once."""
    from pushsvc.feeds import pushin

    with transaction_or_exit() as s:
        pushin.revoke_source(s, name, now=datetime.now(UTC))
    click.echo(f"revoked push source {name}")


@push_sources.command("list")
def list_() -> None:
    """Every push source, when it was last used, and whether it is revoked."""
    from pushsvc.feeds import pushin

    with session_scope(migrated_sessions()) as s:
        for src in pushin.list_sources(s):
            state = f"revoked {src.revoked_at:%Y-%m-%d %H:%M}" if src.revoked_at else "active"
            used = f"{src.last_used_at:%Y-%m-%d %H:%M:%S}" if src.last_used_at else "never"
            click.echo(f"{src.name}\t{state}\tlast used {used}")
