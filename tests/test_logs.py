"""Logs: JSON lines with the request's ids under PRINTWORK_LOG_FORMAT=json; secrets never written."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import httpx

from printwork import logs
from tests.servers import free_port, wait_until_answering


def test_keys_secrets_and_url_queries_are_masked():
    line = ("key pw_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123 lab pw_lab_Zz9Y8x7W6v5U4t secret whsec_QUJDREVGR0g+/abc= "
            "print pa_sandbox_0123456789abcdef url https://img.example/a.jpg?X-Amz-Signature=deadbeef&x=1 end")
    cleaned = logs.masked(line)
    for secret in ("AbCdEfGhIjKlMnOpQrStUvWxYz0123", "Z6v5U4t", "R0g+/abc=", "456789abcdef", "deadbeef"):
        assert secret not in cleaned
    assert "pw_live_AbCd…" in cleaned and "https://img.example/a.jpg?…" in cleaned and cleaned.endswith(" end")


def test_a_json_line_carries_the_context_it_was_written_in():
    stream = io.StringIO()
    handler = logs.handler("json")
    handler.setStream(stream)
    logger = logging.getLogger("printwork.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        tokens = [logs.trace_parent.set("00-abc-def-01"), logs.merchant_id.set(7), logs.order_id.set(42),
                  logs.face.set("prodigi_v4")]
        try:
            raise ValueError("with pw_sandbox_SECRETSECRETSECRET inside")
        except ValueError:
            logger.exception("failed for %s", "https://x.test/p.jpg?token=hidden")
        for var, token in zip((logs.trace_parent, logs.merchant_id, logs.order_id, logs.face), tokens, strict=True):
            var.reset(token)
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "error" and entry["logger"] == "printwork.test_logs"
    assert entry["message"] == "failed for https://x.test/p.jpg?…"
    assert (entry["traceParent"], entry["merchantId"], entry["orderId"], entry["face"]) == (
        "00-abc-def-01", 7, 42, "prodigi_v4")
    assert "ValueError" in entry["exception"] and "SECRETSECRET" not in entry["exception"]


def test_serve_writes_json_lines_with_the_ids_of_the_request(tmp_path, test_db, make_key, order_payload):
    key = make_key()
    port = free_port()
    env = {**os.environ, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_DATABASE_URL": test_db.url,
           "PRINTWORK_SEED_DEMO": "0", "PRINTWORK_LOG_FORMAT": "json", "PRINTWORK_API_KEY_CACHE_SECONDS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port),
                               "--no-workers"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{url}/healthz", server)
        answer = httpx.post(f"{url}/v4.0/orders", json=order_payload(), headers={"X-API-Key": key})
        assert answer.status_code == 200
        order_id = int(answer.json()["order"]["id"].removeprefix("ord_"))
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    entries = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any("Uvicorn running" in e["message"] or "Application startup" in e["message"] for e in entries), stderr
    [placed] = [e for e in entries if e["message"].startswith("order placed")]
    assert placed["traceParent"] == answer.headers["traceparent"]
    assert (placed["orderId"], placed["face"]) == (order_id, "prodigi_v4") and placed["merchantId"] > 0
    assert key not in stderr
