"""Importing MLIT N03 boundaries: what an operator sees when the file is good, odd, or wrong."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pushsvc.cli import main as cli
from pushsvc.config import get_settings
from pushsvc.geo import service
from pushsvc.geo.models import Municipality
from pushsvc.geo.n03 import BoundaryDataError, load_boundaries
from tests.conftest import BOUNDARIES


def _feature(code: str | None, name: str, geometry: dict, district: str | None = None) -> dict:
    props = {"N03_001": "高知県", "N03_002": None, "N03_003": district, "N03_004": name, "N03_007": code}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _square(x: float, y: float, size: float = 0.01) -> list:
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def _write(tmp_path: Path, features: list[dict]) -> Path:
    path = tmp_path / "n03.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


@pytest.fixture
def cli_env(db, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", db.url)
    monkeypatch.setenv("PUSHSVC_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_real_kochi_file_gives_34_municipalities_with_islands_as_one_multipolygon() -> None:
    boundaries = load_boundaries(BOUNDARIES, prefecture="39")
    assert len(boundaries) == 34
    by_code = {b.code: b for b in boundaries}
    assert by_code["39201"].name == "高知市" and by_code["39405"].district == "高岡郡"
    assert all(b.geom.geom_type == "MultiPolygon" and b.geom.is_valid for b in boundaries)
    assert any(len(b.geom.geoms) > 1 for b in boundaries)  # Kochi has islands (e.g. 沖の島, 鵜来島)


def test_features_sharing_a_code_become_one_multipolygon(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _feature("39201", "高知市", {"type": "Polygon", "coordinates": _square(133.5, 33.5)}),
            _feature("39201", "高知市", {"type": "Polygon", "coordinates": _square(133.6, 33.5)}),
        ],
    )
    [kochi] = load_boundaries(path)
    assert kochi.code == "39201" and len(kochi.geom.geoms) == 2


def test_invalid_ring_is_repaired_with_a_warning_naming_the_municipality(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bowtie = [[[133.0, 33.0], [133.1, 33.1], [133.1, 33.0], [133.0, 33.1], [133.0, 33.0]]]
    path = _write(tmp_path, [_feature("39202", "室戸市", {"type": "Polygon", "coordinates": bowtie})])
    with caplog.at_level(logging.WARNING):
        [muroto] = load_boundaries(path)
    assert muroto.repaired and muroto.geom.is_valid and muroto.geom.area > 0
    assert "39202" in caplog.text and "室戸市" in caplog.text


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        (_feature(None, "所属未定地", {"type": "Polygon", "coordinates": _square(133.5, 33.5)}), "所属未定地"),
        (
            _feature("39201", "高知市", {"type": "LineString", "coordinates": [[133.5, 33.5], [133.6, 33.6]]}),
            "LineString",
        ),
        (_feature("39201", "高知市", None), "not a Polygon"),  # type: ignore[arg-type]
    ],
)
def test_code_less_or_non_polygon_features_are_refused_naming_the_feature(
    tmp_path: Path, feature: dict, expected: str
) -> None:
    path = _write(tmp_path, [feature])
    with pytest.raises(BoundaryDataError, match=expected):
        load_boundaries(path)


def test_other_prefectures_in_a_national_file_are_skipped(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _feature("38201", "松山市", {"type": "Polygon", "coordinates": _square(132.7, 33.8)}),
            _feature("39201", "高知市", {"type": "Polygon", "coordinates": _square(133.5, 33.5)}),
        ],
    )
    assert [b.code for b in load_boundaries(path, prefecture="39")] == ["39201"]
    with pytest.raises(BoundaryDataError, match="prefecture 37"):
        load_boundaries(path, prefecture="37")


def test_official_zip_as_mlit_ships_it_is_read(tmp_path: Path) -> None:
    archive = tmp_path / "N03-20210101_39_GML.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("N03-20210101_39_GML/KS-META-N03-21_39_210101.xml", "<meta/>")
        zf.write(BOUNDARIES, "N03-20210101_39_GML/N03-21_39_210101.geojson")
    assert len(load_boundaries(archive, prefecture="39")) == 34


def test_cli_import_is_idempotent_and_replaces_the_prefecture_set(db, cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    first = runner.invoke(cli, ["boundaries", "import", str(BOUNDARIES)])
    assert first.exit_code == 0, first.output
    assert "imported 34 municipalities" in first.output and "国土数値情報" in first.output
    # A re-import of a smaller set replaces the whole prefecture set atomically.
    small = _write(tmp_path, [_feature("39201", "高知市", {"type": "Polygon", "coordinates": _square(133.5, 33.5)})])
    second = runner.invoke(cli, ["boundaries", "import", str(small)])
    assert second.exit_code == 0, second.output
    with db.sessionmaker() as s:
        assert s.execute(select(Municipality.code)).scalars().all() == ["39201"]
    again = runner.invoke(cli, ["boundaries", "import", str(BOUNDARIES)])
    assert again.exit_code == 0 and "replaced 1" in again.output
    with db.sessionmaker() as s:
        assert service.count_municipalities(s) == 34


def test_cli_refuses_a_bad_file_and_keeps_what_was_stored(db, cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _write(tmp_path, [_feature(None, "所属未定地", {"type": "Polygon", "coordinates": _square(133.5, 33.5)})])
    result = CliRunner().invoke(cli, ["boundaries", "import", str(bad)])
    assert result.exit_code == 2 and "N03_007" in result.output
    with db.sessionmaker() as s:
        assert service.count_municipalities(s) == 34


def test_server_loads_boundaries_at_start_when_the_table_is_empty(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from pushsvc.config import Settings
    from pushsvc.main import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}", boundaries=BOUNDARIES)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").json()["municipalities"] == 34
        assert c.get("/api/v1/geo/locate", params={"lat": 33.5597, "lon": 133.5311}).json()["code"] == "39201"
