"""Benchmark: what 避難情報 in force costs each portal answer (issue 16), as a ratio within one run.

Builds the portal benchmark's database (``bench.portal.setup``: real boundaries and evacuation sites,
bulk-inserted subscriptions at real Kochi points), times ``--in-process`` answers with no order in
force, then issues three orders through the real service (高知市 潮江地区 Lv4 with two open shelters,
南国市 whole Lv3, 室戸市 drawn area Lv5) and times the same number again. Same process, same data,
back to back, so the ratio is what the orders add; absolute times depend on how busy the machine is.

    .venv/bin/python -m bench.evacuation_portal --subscriptions 20000 --in-process 500 --append docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench._common import PG_ADMIN_URL, machine, percentile, publish, throwaway_database
from bench.portal import in_process, setup
from pushsvc.config import Settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.evacuation import service as evacuation
from pushsvc.evacuation.schemas import AreaIn, DistrictIn, OrderIn
from pushsvc.operators import accounts
from pushsvc.shelters import service as shelters

USHIOE = {
    "type": "Polygon",
    "coordinates": [[[133.520, 33.535], [133.550, 33.535], [133.550, 33.552], [133.520, 33.552], [133.520, 33.535]]],
}
MUROTO_PART = {
    "type": "Polygon",
    "coordinates": [[[134.14, 33.28], [134.16, 33.28], [134.16, 33.30], [134.14, 33.30], [134.14, 33.28]]],
}


def issue_orders(db_url: str) -> None:
    settings = Settings(database_url=db_url, evacuation_single_issuer="39201=5;39204=5;39202=5")
    factory = make_sessionmaker(make_engine(db_url))
    with session_scope(factory) as s:
        op, _ = accounts.create_operator(s, name="bench-pref", role="prefecture")
        evacuation.save_district(s, op, "39201", DistrictIn(name="潮江地区", area=USHIOE), settings=settings)
        sites = ["E3920100484201", "E3920100445201"]
        shelters.set_states(s, [(i, True, "available") for i in sites], by="bench")
        for code, level, hazards, area, opened in (
            ("39201", 4, ["landslide"], AreaIn(kind="districts", districts=["潮江地区"]), sites),
            ("39204", 3, ["flood"], AreaIn(kind="municipality"), []),
            ("39202", 5, ["landslide"], AreaIn(kind="polygon", polygon=MUROTO_PART), []),
        ):
            evacuation.issue(
                s,
                op,
                OrderIn(
                    municipality_code=code,
                    level=level,
                    hazards=hazards,
                    area=area,  # type: ignore[arg-type]
                    shelters=opened,
                ),
                settings=settings,
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=PG_ADMIN_URL)
    ap.add_argument("--subscriptions", type=int, default=20_000)
    ap.add_argument("--in-process", type=int, default=500, metavar="N")
    ap.add_argument("--append", type=Path)
    args = ap.parse_args()
    rng = random.Random(16)
    with throwaway_database(args.pg) as db:
        setup(db.url, args.subscriptions, rng)
        before, q_before = in_process(db.url, args.in_process, args.subscriptions, random.Random(1))
        issue_orders(db.url)
        after, q_after = in_process(db.url, args.in_process, args.subscriptions, random.Random(1))
    m0, m1 = statistics.mean(before) * 1000, statistics.mean(after) * 1000
    report = (
        f"\n## Portal with 避難情報 in force (`bench/evacuation_portal.py`, issue 16), {datetime.now(UTC):%Y-%m-%d}\n\n"
        f"- Setup: PostgreSQL + PostGIS, {args.subscriptions:,} subscriptions as in `bench.portal`; "
        f"{args.in_process} in-process answers (session, token check, portal, JSON, commit) with no order in force, "
        f"then the same after issuing 3 orders (one with 2 open shelters).\n"
        f"- Machine: {machine()}.\n"
        f"- No order: mean {m0:.2f} ms, p95 {percentile(before, 95) * 1000:.2f} ms, {q_before:.1f} queries/answer. "
        f"Three orders: mean {m1:.2f} ms, p95 {percentile(after, 95) * 1000:.2f} ms, {q_after:.1f} queries/answer. "
        f"**Ratio {m1 / m0:.2f}×** (same run, back to back).\n"
    )
    publish(report, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
