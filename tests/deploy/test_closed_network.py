"""A prefecture's closed network: no page loads anything from another origin, /docs works offline,
resident pages answer HTML errors, and outbound feed polling goes through the configured proxy."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient

from pushsvc.feeds.poller import Poller, fetch
from pushsvc.subscriptions.page import STATIC
from tests.deploy.conftest import proxy, serve_directory

__all__ = ["proxy"]

# http(s) URLs a page could load; XML namespaces are names, not loads.
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import\s+[^;]*["']https?://|fetch\(\s*["'`]https?://"""
)


def test_no_static_file_loads_from_another_origin() -> None:
    offenders = [
        str(p.relative_to(STATIC))
        for p in STATIC.rglob("*")
        if p.suffix in {".html", ".js", ".css", ".webmanifest"} and EXTERNAL.search(p.read_text())
    ]
    assert offenders == []


def test_docs_and_redoc_work_without_internet(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
        assert "fonts.googleapis" not in page.text and "cdn.jsdelivr" not in page.text
        for asset in assets:
            if asset.startswith("/docs-assets/"):
                assert client.get(asset).status_code == 200, asset


def test_resident_pages_get_an_html_404_and_the_api_keeps_problem_json(client: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.get("/alerts/999", headers=browser)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "ページが見つかりません" in page.text
    assert client.get("/no/such/page", headers=browser).headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/alerts/999", headers=browser)
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    problem = client.get("/alerts/999", headers={"Accept": "application/json"}).json()
    assert problem["type"] == "/problems/not-found"  # a relative reference to this server, not a placeholder domain
    explained = client.get(problem["type"])
    assert explained.status_code == 200 and "Not found" in explained.text


def test_feed_polling_goes_through_the_proxy_of_the_environment(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, relayed = proxy
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    from tests.conftest import SHARED

    with serve_directory(SHARED / "samples" / "jma" / "feeds") as (base, _):

        async def go() -> int:
            async with Poller.client() as client:
                got = await fetch(client, f"{base}/extra_l.xml", timeout_s=5)
            return got.status

        assert asyncio.run(go()) == 200
    assert relayed == [f"{base}/extra_l.xml"]
