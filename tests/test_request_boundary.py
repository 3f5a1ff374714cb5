"""A request's writes are committed before its answer is sent: a resident or operator told "done" can rely on
it, and a commit that fails is an error they see, not a success that silently did not happen."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session


def test_a_write_whose_commit_fails_is_not_answered_as_done(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def commit_fails(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("could not write to file: No space left on device"))

    monkeypatch.setattr(Session, "commit", commit_fails)
    client_answers = TestClient(client.app, raise_server_exceptions=False)
    r = client_answers.post("/api/v1/kpi/events", json={"kind": "page_view_resident"})
    assert r.status_code == 500, r.text  # before the fix: 204 sent, then the commit failed unseen
    assert r.headers["content-type"] == "application/problem+json"
    assert "nothing was changed" in r.json()["detail"]
