"""The ``pushsvc`` command: serve, migrate, import boundaries, and (as domains arrive) more."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session, sessionmaker

from pushsvc import __version__
from pushsvc.config import MLIT_BOUNDARY_CREDIT, Settings, get_settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope

if TYPE_CHECKING:
    from pushsvc.webpush.vapid import VapidIdentity


def _setup_logging() -> None:
    level = get_settings().log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # "Running upgrade …" on every command is noise; a failed migration still raises
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _start_identity(settings: Settings, factory: sessionmaker[Session], *, rotate: bool = False) -> VapidIdentity:
    """The VAPID key, or a one-line error and exit 2 when its path cannot be read or written (a volume
    owned by another user, a read-only mount): a traceback there tells an operator nothing."""
    from pushsvc.webpush import identity as vapid_identity

    try:
        return vapid_identity.start(settings, factory, rotate=rotate)
    except vapid_identity.VapidKeyChanged as exc:
        click.echo(f"error: {exc}", err=True)
    except OSError as exc:
        click.echo(
            f"error: cannot use the VAPID key file {settings.vapid_key_file}: {exc.strerror or exc} "
            f"(make its directory writable by this user, or set PUSHSVC_VAPID_KEY_FILE)",
            err=True,
        )
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="pushsvc")
def main() -> None:
    """pushsvc: location-targeted disaster and area notifications by Web Push."""
    _setup_logging()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option(
    "--rotate-vapid", is_flag=True, help="accept a changed VAPID key (every existing subscriber must subscribe again)"
)
def serve(host: str, port: int, workers: int, rotate_vapid: bool) -> None:
    """Run the HTTP API (migrates the database and loads PUSHSVC_BOUNDARIES first if needed)."""
    import uvicorn

    from pushsvc.main import load_boundaries_if_empty
    from pushsvc.migrate import upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    from pushsvc.geo.n03 import BoundaryDataError

    try:
        load_boundaries_if_empty(settings, make_sessionmaker(engine))
    except BoundaryDataError as exc:
        click.echo(f"error: PUSHSVC_BOUNDARIES: {exc} (`pushsvc data fetch` gets the file)", err=True)
        sys.exit(2)
    _start_identity(settings, make_sessionmaker(engine), rotate=rotate_vapid)
    engine.dispose()
    # No access log: it would write every resident's IP address (docs/PRIVACY.md).
    uvicorn.run(
        "pushsvc.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@main.command()
@click.option("--until-idle", is_flag=True, help="exit when no batch is due (tests, one-shot runs)")
@click.option(
    "--poll",
    "with_poll",
    is_flag=True,
    help="also poll the feeds of PUSHSVC_FEEDS_FILE in this process (run this in one worker only)",
)
@click.option(
    "--metrics-bind",
    envvar="PUSHSVC_WORKER_METRICS_BIND",
    default=None,
    metavar="HOST:PORT",
    help="serve this worker's push counters for Prometheus here (env PUSHSVC_WORKER_METRICS_BIND)",
)
def worker(until_idle: bool, with_poll: bool, metrics_bind: str | None) -> None:
    """Send queued notifications: lease batches, push, record (run as many as you like on PostgreSQL)."""
    import asyncio
    import signal

    from pushsvc import housekeeping
    from pushsvc.delivery.worker import Worker
    from pushsvc.runtime import settle_heap
    from pushsvc.webpush.sender import PushSender

    settings = get_settings()
    factory = make_sessionmaker(make_engine(settings.database_url))
    ident = _start_identity(settings, factory)
    if metrics_bind:
        from pushsvc.telemetry import serve_worker_metrics

        serve_worker_metrics(metrics_bind)
    settle_heap()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Housekeeping (docs/PRIVACY.md's deletions) runs beside sending, so no cron is needed.
        background: list[asyncio.Task[object]] = [asyncio.create_task(housekeeping.run_loop(factory, settings, stop))]
        async with PushSender.from_settings(settings, ident) as sender:
            if with_poll:
                from pushsvc.feeds.poller import Poller
                from pushsvc.feeds.sources import load_sources

                poller = Poller(settings, factory, load_sources(settings.feeds_file))
                background.append(asyncio.create_task(poller.run(stop)))
            await Worker(settings, factory, sender).run(stop, until_idle=until_idle)
            stop.set()
            await asyncio.gather(*background)

    asyncio.run(run())


@main.command()
def poll() -> None:
    """Poll the feed sources of PUSHSVC_FEEDS_FILE (river levels, JMA) and enqueue their alerts; run one."""
    import asyncio
    import signal

    from pushsvc.feeds.poller import Poller
    from pushsvc.feeds.sources import SourceConfigError, load_sources
    from pushsvc.migrate import upgrade

    settings = get_settings()
    try:
        sources = load_sources(settings.feeds_file)
    except SourceConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    engine = make_engine(settings.database_url)
    upgrade(engine)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Poller(settings, make_sessionmaker(engine), sources).run(stop)

    asyncio.run(run())


@main.command("housekeeping")
def housekeeping_command() -> None:
    """Delete expired current locations and roll up old KPI events once (workers also do it on a timer)."""
    from pushsvc import housekeeping
    from pushsvc.migrate import upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    results = housekeeping.run_once(make_sessionmaker(engine), settings)
    for r in results:
        outcome = r.error or ("skipped: another process is doing it" if r.removed is None else f"{r.removed} deleted")
        click.echo(f"{r.name}: {outcome}", err=r.error is not None)
    sys.exit(1 if any(r.error for r in results) else 0)


@main.command()
def migrate() -> None:
    """Apply every pending Alembic migration."""
    from pushsvc.migrate import upgrade

    upgrade(make_engine(get_settings().database_url))
    click.echo("database is at the latest migration")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=int, help="0 = any free port (printed)")
@click.option(
    "--mode",
    type=click.Choice(["full", "count"]),
    default="full",
    show_default=True,
    help="full: verify VAPID and decrypt; count: accept and count only (benchmarks)",
)
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=float,
    help="answer every push this long after it arrived, as a push service across the internet",
)
def devpush(host: str, port: int, mode: str, latency_ms: float) -> None:
    """Run the local RFC 8030 push service for tests, the demo and benchmarks (never expose it)."""
    from pushsvc.dev.devpush.runner import serve as serve_devpush

    serve_devpush(host, port, "count" if mode == "count" else "full", latency_ms)


@main.command()
@click.option("--residents", default=300, show_default=True, type=int, help="simulated residents to register")
@click.option(
    "--speed",
    default=8000.0,
    show_default=True,
    type=float,
    help="how many times faster than real time the 2026-06-02 event is replayed",
)
@click.option(
    "--shared",
    default="../shared",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="the shared data directory (boundaries, river samples)",
)
@click.option("--seed", default=39, show_default=True, type=int, help="seed for where residents live")
def demo(residents: int, speed: float, shared: Path, seed: int) -> None:
    """Start API, worker, poller and a local push service on SQLite; replay the 2026-06-02 rain event."""
    from pushsvc.dev.demo import DemoOptions, run_demo

    logging.getLogger().setLevel(logging.ERROR)  # the demo prints its own story
    summary = run_demo(
        DemoOptions(shared=shared, residents=residents, speed=speed, seed=seed, echo=lambda line: click.echo(line))
    )
    sys.exit(0 if summary.ok else 1)


@main.group()
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


@main.command()
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


@main.group()
def vapid() -> None:
    """The server's VAPID identity (Web Push application server key)."""


@vapid.command("show")
def vapid_show() -> None:
    """Print the public key browsers subscribe with (creates the key file on first use)."""
    from pushsvc.webpush.identity import load_identity

    identity = load_identity(get_settings())
    click.echo(f"public key:  {identity.public_key_b64url}")
    click.echo(f"fingerprint: {identity.fingerprint}")


from pushsvc.operators.cli import operators as _operators  # noqa: E402

main.add_command(_operators)

from pushsvc.feeds.cli import push_sources as _push_sources  # noqa: E402

main.add_command(_push_sources)


@main.group()
def shelters() -> None:
    """Designated emergency evacuation sites (国土地理院 指定緊急避難場所データ)."""


@shelters.command("import")
@click.argument("path", type=click.Path(path_type=Path))
def shelters_import(path: Path) -> None:
    """Load sites from GSI CSV/GeoJSON (a file or a folder) or the standard open-data CSV; idempotent."""
    from pushsvc.shelters.cli import import_command

    import_command(path)


@main.group()
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


@main.group()
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


if __name__ == "__main__":
    main()
