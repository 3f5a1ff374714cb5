"""The ``pushsvc`` command: serve, worker, poll, migrate, the dev tooling, and the domains' commands.

The commands that load, look up and report data live in ``pushsvc.cli_data``; operators and push sources
bring their own (``pushsvc.operators.cli``, ``pushsvc.feeds.cli``). All are registered here.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session, sessionmaker

from pushsvc import __version__
from pushsvc.cli_data import boundaries, data, kpi, locate, shelters, vapid
from pushsvc.config import Settings, get_settings
from pushsvc.db import make_engine, make_sessionmaker

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


from pushsvc.operators.cli import operators as _operators  # noqa: E402

main.add_command(_operators)

from pushsvc.feeds.cli import push_sources as _push_sources  # noqa: E402

main.add_command(_push_sources)

for _command in (boundaries, data, kpi, locate, shelters, vapid):
    main.add_command(_command)


if __name__ == "__main__":
    main()
