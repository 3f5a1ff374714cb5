"""The ``pushsvc`` commands that load, look up and report data: boundaries, locate, vapid, shelters, kpi, data.

``pushsvc.cli`` registers them on the ``pushsvc`` group; each imports its domain inside the command, so
starting the CLI stays cheap.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pushsvc.config import MLIT_BOUNDARY_CREDIT, get_settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope

__all__ = ["boundaries", "data", "kpi", "locate", "shelters", "vapid"]


@click.group()
def boundaries() -> None:
    """Municipal boundaries (MLIT N03 行政区域)."""


@boundaries.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--prefecture", default=None, help="two-digit code to keep (default: PUSHSVC_PREFECTURE)")
def boundaries_import(path: Path, prefecture: str | None) -> None:
    """Load an N03 GeoJSON file or the official N03 zip; replaces that prefecture's set atomically."""
    from pushsvc.geo import service
    from pushsvc.geo.n03 import BoundaryDataError, load_boundaries
    from pushsvc.migrate import upgrade

    settings = get_settings()
    try:
        parsed = load_boundaries(path, prefecture=prefecture or settings.prefecture)
    except BoundaryDataError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with (
        session_scope(make_sessionmaker(engine)) as session,
        click.progressbar(length=len(parsed), label="importing municipalities", file=sys.stderr) as bar,
    ):
        result = service.import_boundaries(session, parsed, source=str(path), progress=bar.update)
    for code in result.repaired:
        click.echo(f"warning: repaired an invalid boundary of {code}", err=True)
    click.echo(
        f"imported {result.municipalities} municipalities of prefecture {result.prefecture_code} "
        f"(replaced {result.replaced})"
    )
    click.echo(f"credit: {MLIT_BOUNDARY_CREDIT}")


@click.command()
@click.argument("lat", type=float)
@click.argument("lon", type=float)
def locate(lat: float, lon: float) -> None:
    """Print the municipality at LAT LON."""
    from pushsvc.errors import ProblemError
    from pushsvc.geo import service

    settings = get_settings()
    with session_scope(make_sessionmaker(make_engine(settings.database_url))) as session:
        try:
            found = service.locate(session, lat, lon, tolerance_m=settings.coastal_tolerance_m)
        except ProblemError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            sys.exit(1)
    p = found.place
    click.echo(f"{p.code} {p.prefecture}{p.district or ''}{p.name} ({found.match}, {found.distance_m:.0f} m)")


@click.group()
def vapid() -> None:
    """The server's VAPID identity (Web Push application server key)."""


@vapid.command("show")
def vapid_show() -> None:
    """Print the public key browsers subscribe with (creates the key file on first use)."""
    from pushsvc.webpush.identity import load_identity

    identity = load_identity(get_settings())
    click.echo(f"public key:  {identity.public_key_b64url}")
    click.echo(f"fingerprint: {identity.fingerprint}")


@click.group()
def shelters() -> None:
    """Designated emergency evacuation sites (国土地理院 指定緊急避難場所データ)."""


@shelters.command("import")
@click.argument("path", type=click.Path(path_type=Path))
def shelters_import(path: Path) -> None:
    """Load sites from GSI CSV/GeoJSON (a file or a folder) or the standard open-data CSV; idempotent."""
    from pushsvc.shelters.cli import import_command

    import_command(path)


@click.group()
def kpi() -> None:
    """Usage figures the prefecture reports (no personal data)."""


@kpi.command("report")
@click.option("--fy", default=None, help="fiscal year: R6, FY2024 or 2024 (default: the current one)")
def kpi_report(fy: str | None) -> None:
    """Print the KPI of a fiscal year (April–March JST) as a table."""
    from pushsvc.kpi.cli import report_command

    report_command(fy)


@kpi.command("rollup")
def kpi_rollup() -> None:
    """Roll raw events older than PUSHSVC_KPI_RAW_RETENTION_DAYS into daily counts and delete them."""
    from pushsvc.kpi.cli import rollup_command

    rollup_command()


@click.group()
def data() -> None:
    """The data files the service reads (boundaries, JMA code tables, evacuation sites)."""


@data.command("fetch")
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="where to put them, laid out like ../shared (default: PUSHSVC_DATA_DIR)",
)
@click.option(
    "--from",
    "source_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="copy from this directory laid out like ../shared (default: ../shared when it exists)",
)
@click.option("--base-url", default=None, help="a mirror laid out like ../shared (default: PUSHSVC_DATA_BASE_URL)")
@click.option("--no-demo", is_flag=True, help="skip the river replay files only the demo uses")
def data_fetch(dest: Path | None, source_dir: Path | None, base_url: str | None, no_demo: bool) -> None:
    """Fetch the data files and check each against its pinned SHA-256; a changed or cut file is refused."""
    from pushsvc.datasets import DataFetchError, fetch

    settings = get_settings()
    if source_dir is None and Path("../shared").is_dir():
        source_dir = Path("../shared")
    try:
        fetch(
            settings,
            dest=dest or settings.data_dir,
            source_dir=source_dir,
            base_url=base_url or settings.data_base_url,
            include_demo=not no_demo,
            echo=click.echo,
        )
    except DataFetchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
