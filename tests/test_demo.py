"""``pushsvc demo`` end to end with a small population: the real event alerts exactly the municipalities whose
gauges crossed danger level, and every targeted resident decrypts every alert once."""

from __future__ import annotations

import pytest

from pushsvc.dev.demo import DemoOptions, run_demo
from tests.conftest import SHARED
from tests.feeds.river.test_replay import raw_danger_crossings, town_codes
from tests.fixtures.river import EVENT_CSV, river_file


@pytest.mark.slow
def test_demo_replays_the_event_to_the_right_residents_and_reports_ok() -> None:
    expected = raw_danger_crossings(river_file("series", EVENT_CSV.name))
    lines: list[str] = []
    summary = run_demo(DemoOptions(shared=SHARED, residents=40, speed=60000.0, echo=lines.append))

    assert summary.ok and summary.missing == 0 and summary.duplicates == 0
    assert summary.rises == expected  # 9 danger crossings at 9 gauges
    towns = town_codes()
    assert summary.danger_towns == {towns[c] for c in expected}
    assert summary.notifications == 18  # each crossing and its "back below" message
    assert summary.residents == 40 and summary.municipalities_with_residents == 34
    assert summary.decrypted == summary.targeted > 0
    assert any("rose above danger level" in line for line in lines)
    assert lines[-1].strip() == "result: OK"
