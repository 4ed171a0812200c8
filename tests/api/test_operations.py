"""/healthz, /readyz and /metrics, as a load balancer and Prometheus call them: no API key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from printwork.api.app import create_app
from printwork.config import Settings
from printwork.db import Database
from printwork.migrations import runner
from tests.servers import free_port, metric


def test_healthz_answers_without_a_key(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer.headers["content-type"] == "application/json"


def test_readyz_checks_the_database_its_schema_and_the_queue(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "queue": "ok"}}


def test_readyz_names_an_unreachable_queue(settings, test_db):
    closed = free_port()
    app = create_app(settings.model_copy(update={"queue_url": f"redis://127.0.0.1:{closed}/0"}), test_db.db)
    answer = TestClient(app).get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["queue"].startswith("unreachable: ")


def test_readyz_names_a_schema_behind_or_ahead_and_an_unreachable_database(tmp_path):
    behind = Settings(data_dir=tmp_path, seed_demo=False)
    runner.upgrade(behind.resolved_database_url, "0008")
    database = Database(behind.resolved_database_url)
    try:
        body = TestClient(create_app(behind, database)).get("/readyz").json()
        assert body["checks"]["migrations"].startswith("behind: at 0008")
        assert "printwork db upgrade" in body["checks"]["migrations"]
    finally:
        database.dispose()
    # A newer Printwork migrated the database; this process still runs the old code.
    database = Database(behind.resolved_database_url)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_a_newer_printwork'"))
        body = TestClient(create_app(behind, database)).get("/readyz").json()
        assert body["status"] == "not ready"
        assert body["checks"]["migrations"].startswith("ahead: at 0099_from_a_newer_printwork")
        assert "restart this process on that version" in body["checks"]["migrations"]
    finally:
        database.dispose()
    gone = Settings(data_dir=tmp_path, seed_demo=False,
                    database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing")
    database = Database(gone.resolved_database_url)
    try:
        answer = TestClient(create_app(gone, database)).get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"].startswith("unreachable: ")
    finally:
        database.dispose()


def test_metrics_count_requests_by_face_route_and_status_and_orders_by_face(client, headers, order_payload):
    before = client.get("/metrics").text
    created = 'printwork_orders_created_total{environment="sandbox",face="prodigi_v4"}'
    posts = 'printwork_http_request_duration_seconds_count{face="prodigi_v4",method="POST",route="/v4.0/orders",status="200"}'
    refused = ('printwork_http_request_duration_seconds_count'
               '{face="prodigi_v4",method="GET",route="/v4.0/orders/{order_id}",status="401"}')

    def value(exposition: str, sample: str) -> float:
        try:
            return metric(exposition, sample)
        except AssertionError:
            return 0.0

    once = dict(order_payload(), idempotencyKey="once")
    order = client.post("/v4.0/orders", json=once, headers=headers).json()
    assert client.post("/v4.0/orders", json=once, headers=headers).json()["outcome"] == "AlreadyExists"
    client.get(f"/v4.0/orders/{order['order']['id']}", headers={"X-API-Key": "wrong"})
    after = client.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    # Two answers of 200, one order: the repeated idempotency key placed nothing.
    assert value(after.text, posts) - value(before, posts) == 2
    assert value(after.text, created) - value(before, created) == 1
    assert value(after.text, refused) - value(before, refused) == 1
    assert metric(after.text, "printwork_orders_due") >= 0
    assert "printwork_queue_depth " in after.text
    assert "printwork_oldest_undelivered_callback_age_seconds " in after.text
    assert "wrong" not in after.text and order["order"]["id"] not in after.text


def test_metrics_need_the_bearer_token_when_one_is_set(settings, test_db):
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-token"}), test_db.db)
    client = TestClient(app)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert answer.status_code == 200 and "printwork_orders_due" in answer.text
    assert client.get("/healthz").status_code == 200  # the token guards /metrics only


def test_serve_starts_its_metrics_directory_without_old_counts_and_keeps_other_files(tmp_path, monkeypatch):
    from printwork import metrics

    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"old counts")
    (folder / "notes.txt").write_text("an operator's file")
    metrics.prepare_multiprocess_directory(folder)
    assert not (folder / "counter_1234.db").exists() and (folder / "notes.txt").exists()
    assert metrics.os.environ[metrics.MULTIPROC_ENV] == str(folder)


def test_readyz_probes_leave_the_logs_alone(client, caplog):
    """A load balancer asks every few seconds; each answer must not write lines of its own."""
    with caplog.at_level("INFO"):
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
    assert [r for r in caplog.records if r.name.startswith("alembic")] == []
