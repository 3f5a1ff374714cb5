"""The page's text over HTTP: one language's messages with an ETag; an unknown language is a 422 naming it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pushsvc import i18n


def test_the_page_gets_its_language_from_the_catalogue_with_an_etag(client: TestClient) -> None:
    r = client.get("/api/v1/i18n/zh-Hant")
    assert r.status_code == 200
    doc = r.json()
    assert doc["lang"] == "zh-Hant" and doc["messages"]["page.title"] == "高知縣 防災推播通知"
    assert set(doc["messages"]) == set(i18n.msgids()) and len(doc["languages"]) == 10
    again = client.get("/api/v1/i18n/zh-Hant", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_an_unknown_language_is_a_problem_naming_the_field(client: TestClient) -> None:
    r = client.get("/api/v1/i18n/xx")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "lang" in r.text


def test_the_page_may_load_only_from_its_own_origin(client: TestClient) -> None:
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "http" not in csp  # no other origin named anywhere
