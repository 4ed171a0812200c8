"""An order answered with 2xx is on disk: SQLite runs WAL with synchronous=FULL, and a server
killed right after answering leaves the order behind."""

from __future__ import annotations

import subprocess
import httpx
from sqlalchemy import text

from printwork.db import Database
from tests.servers import running_servers


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        with database.read() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        database.dispose()


def test_an_answered_order_survives_the_server_being_killed(test_db, tmp_path, api_key, order_payload):
    with running_servers(test_db.url, tmp_path) as urls:
        response = httpx.post(f"{urls[0]}/v4.0/orders", json=order_payload(), headers={"X-API-Key": api_key})
        assert response.status_code == 200
        # Kill every server process without letting it shut down cleanly.
        subprocess.run(["pkill", "-KILL", "-f", f"--port {urls[0].rsplit(':', 1)[1]}"], check=False)
    order_number = int(response.json()["order"]["id"][4:])
    with test_db.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM orders WHERE id = :id"), {"id": order_number}).scalar() == 1
        assert session.execute(text("SELECT count(*) FROM order_assets WHERE order_id = :id"), {"id": order_number}).scalar() == 1

