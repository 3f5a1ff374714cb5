"""docs/OPERATIONS.md's backup and restore, run as written: a PostgreSQL dump plus the VAPID key, restored
on a fresh database, still reaches the residents who subscribed before (their browsers hold the old key)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pushsvc.db import make_engine, make_sessionmaker
from pushsvc.main import create_app
from pushsvc.webpush import identity as vapid_identity
from pushsvc.webpush.vapid import VapidIdentity
from tests.conftest import PG_URL, ROOT, TestDatabase
from tests.fixtures.delivery import KOCHI_KENCHO, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server

__all__ = ["devpush", "devpush_server", "harness"]

RUNBOOK = (ROOT / "docs" / "OPERATIONS.md").read_text()


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_restore_on_a_fresh_database_delivers_to_existing_subscribers(harness: Harness, tmp_path: Path) -> None:
    if harness.db.backend != "postgresql":
        pytest.skip("the runbook's backup is a PostgreSQL dump")
    for command in ("pg_dump --format=custom", "pg_restore --no-owner", "--template=template0"):
        assert command in RUNBOOK, command  # the test runs what the runbook says
    resident = harness.subscribe(KOCHI_KENCHO)
    backup = tmp_path / "backup"
    backup.mkdir()
    # Backup: the dump and the key file.
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={backup / 'pushsvc.dump'}", libpq(harness.db.url)], check=True
    )
    shutil.copy2(harness.settings.vapid_key_file, backup / "vapid.pem")
    # Restore on a fresh database and a fresh key volume.
    name = f"pushsvc_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    restored_url = make_url(harness.db.url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(restored_url)
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={libpq(restored_url)}",
                str(backup / "pushsvc.dump"),
            ],
            check=True,
        )
        keys = tmp_path / "restored-keys"
        keys.mkdir()
        shutil.copy2(backup / "vapid.pem", keys / "vapid.pem")
        settings = harness.settings.model_copy(
            update={"database_url": restored_url, "vapid_key_file": keys / "vapid.pem"}
        )
        app = create_app(settings)
        with TestClient(app) as client:
            restored = Harness(
                TestDatabase("postgresql", restored_url, engine, make_sessionmaker(engine), keys),
                settings,
                app,
                client,
                harness.push,
            )
            nid = restored.notify(
                title={"ja": "復元後の訓練", "en": "After restore"}, target={"municipality_codes": ["39201"]}
            )
            restored.run_worker(nid)
            assert restored.status(nid)["sent"] == 1
        [got] = harness.push.received(resident.device)  # decrypted with the resident's own keys
        assert got.json()["title"] == "復元後の訓練"
        # Restoring the dump without the key: the server refuses to start instead of silently losing everyone.
        other = settings.model_copy(update={"vapid_key_file": tmp_path / "new" / "vapid.pem"})
        with pytest.raises(vapid_identity.VapidKeyChanged):
            vapid_identity.start(other, make_sessionmaker(engine))
        assert VapidIdentity.from_text((keys / "vapid.pem").read_text()).fingerprint == app.state.vapid.fingerprint
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
