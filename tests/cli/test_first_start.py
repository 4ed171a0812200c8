"""What `make run` gives on first start: a demo key and a dashboard to sign in to, kept across restarts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from printwork.api.app import create_app
from printwork.bootstrap import DEMO_MERCHANT_USER, DEMO_OPERATOR, prepare
from printwork.config import Settings
from printwork.db import Database
from tests.dashboard import sign_in


def test_first_start_gives_a_working_key_and_dashboard_sign_in_that_survive_a_restart(tmp_path):
    settings = Settings(data_dir=tmp_path, public_base_url="https://printwork.test", api_key_cache_seconds=0)
    database = Database(settings.resolved_database_url)
    try:
        first = prepare(settings, database)
        assert first.catalog_loaded and first.demo_key and first.demo_sign_in
        assert (tmp_path / "demo-dashboard-password").stat().st_mode & 0o077 == 0
        again = prepare(settings, database)
        assert (again.demo_key, again.demo_sign_in) == (first.demo_key, first.demo_sign_in)
        with TestClient(create_app(settings, database)) as client:
            assert client.get("/v4.0/orders", headers={"X-API-Key": first.demo_key}).status_code == 200
            assert sign_in(client, DEMO_MERCHANT_USER, first.demo_sign_in.password).status_code == 303
            assert "Demo Shop" in client.get("/dashboard/orders").text
            client.cookies.clear()
            assert sign_in(client, DEMO_OPERATOR, first.demo_sign_in.password).status_code == 303
            assert client.get("/dashboard/operator").status_code == 200
            # The password file lost: the next start sets a new password, and the old one stops working.
            (tmp_path / "demo-dashboard-password").unlink()
            renewed = prepare(settings, database).demo_sign_in
            assert renewed.password != first.demo_sign_in.password
            client.cookies.clear()
            assert sign_in(client, DEMO_MERCHANT_USER, first.demo_sign_in.password).status_code != 303
            assert sign_in(client, DEMO_MERCHANT_USER, renewed.password).status_code == 303
    finally:
        database.dispose()
