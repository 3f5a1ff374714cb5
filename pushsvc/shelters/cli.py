"""``pushsvc shelters import``: parse first, then write in one transaction."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pushsvc.config import get_settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.shelters.loader import ShelterDataError, parse_path
from pushsvc.shelters.schemas import SHELTER_CREDIT


def import_command(path: Path) -> None:
    from pushsvc.migrate import upgrade
    from pushsvc.shelters import service

    try:
        parsed = parse_path(path)
    except ShelterDataError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        result = service.import_sites(session, parsed.sites, source=str(path), skipped=parsed.skipped, read=parsed.read)
    for reason in result.skipped[:20]:
        click.echo(f"skipped {reason}", err=True)
    click.echo(
        f"imported {result.imported} sites of {result.municipalities} municipalities "
        f"(read {result.read}, skipped {len(result.skipped)}, removed {result.removed})"
    )
    click.echo(f"credit: {SHELTER_CREDIT}")
