"""The order process logs under the trace of the request that made the order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.process.test_e2e import order
from tests.servers import free_port, metric, wait_until_answering


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_pipeline_and_callback_jobs_log_with_the_trace_of_the_request_that_made_the_order(
        tmp_path, test_db, make_key, image_server):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    key = make_key()
    port = free_port()
    env = {**os.environ, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_DATABASE_URL": test_db.url,
           "PRINTWORK_SEED_DEMO": "0", "PRINTWORK_LOG_FORMAT": "json", "PRINTWORK_API_KEY_CACHE_SECONDS": "0",
           "PRINTWORK_ALLOW_PRIVATE_URLS": "1", "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port), "--workers"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{url}/healthz", server)
        # Some receivers put their secret in the path (chat webhooks): only the host is logged.
        callback = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/T0-secret-path?token=hidden-query"
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            made = client.post("/v4.0/orders", json=order(f"{image_server.url}/photo.jpg", callbackUrl=callback))
            other = client.post("/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"))
            missing = client.post("/v4.0/orders", json=order(f"{image_server.url}/missing.jpg"))
            assert made.status_code == other.status_code == missing.status_code == 200
            order_id = made.json()["order"]["id"]
            for _ in range(300):
                if client.get(f"/v4.0/orders/{order_id}").json()["order"]["status"]["stage"] == "Complete":
                    break
                threading.Event().wait(0.1)
            else:
                raise AssertionError(f"{order_id} did not complete")
            threading.Event().wait(1.5)  # the last callbacks
            exposition = httpx.get(f"{url}/metrics").text
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
        receiver.shutdown()
    # The downloads are counted: two pictures stored whole, a missing one failing and retried.
    photo_bytes = len(image_server.files["photo.jpg"])
    assert metric(exposition, 'printwork_downloads_total{outcome="downloaded"}') == 2
    assert metric(exposition, "printwork_download_bytes_total") == 2 * photo_bytes
    assert metric(exposition, 'printwork_downloads_total{outcome="retrying"}') >= 1
    number = int(order_id.removeprefix("ord_"))
    entries = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    pipeline = [e for e in entries if e.get("orderId") == number
                and e["logger"] in ("printwork.core.process.pipeline", "printwork.core.orders.progress")]
    callbacks = [e for e in entries if e["logger"] == "printwork.core.callbacks.delivery" and e.get("orderId") == number]
    assert any("downloaded" in e["message"] for e in pipeline), stderr[-3000:]
    assert any("-> Complete" in e["message"] for e in pipeline), stderr[-3000:]
    assert callbacks and all(" 200 in " in e["message"] for e in callbacks), stderr[-3000:]
    for entry in pipeline + callbacks:
        assert entry["traceParent"] == made.headers["traceparent"], entry
        assert entry["merchantId"] > 0 and entry["face"] == "prodigi_v4", entry
    # The other order's jobs log under its own trace, never this one's.
    theirs = [e for e in entries if e.get("orderId") == int(other.json()["order"]["id"].removeprefix("ord_"))
              and e["logger"].startswith("printwork.core.")]
    assert theirs and all(e["traceParent"] == other.headers["traceparent"] for e in theirs)
    assert "hidden-query" not in stderr and "secret-path" not in stderr and key not in stderr
