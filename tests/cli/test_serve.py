"""`printwork serve --processes N`: several server processes on one port, one database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, metric, wait_until_answering


def server_children(pid: int) -> list[int]:
    """The supervisor's children that serve requests (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_several_processes_serve_one_port_and_stop_together(test_db, tmp_path, make_key, order_payload):
    key = make_key()
    port = free_port()
    env = {**os.environ, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_DATABASE_URL": test_db.url,
           "PRINTWORK_SEED_DEMO": "0", "PRINTWORK_API_KEY_CACHE_SECONDS": "0"}
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port), "--no-workers", "--processes", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v4.0/orders"
    headers = {"X-API-Key": key}
    try:
        deadline = time.monotonic() + 60
        while len(server_children(supervisor.pid)) < 2 or not _answers(url, headers):
            assert supervisor.poll() is None, supervisor.stderr.read().decode()
            assert time.monotonic() < deadline, "the servers did not start"
            time.sleep(0.2)
        children = server_children(supervisor.pid)
        assert len(children) == 2

        def create(n: int) -> httpx.Response:
            return httpx.post(url, json={**order_payload(), "merchantReference": f"ref-{n}"}, headers=headers, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(create, range(24)))
        assert [r.status_code for r in responses] == [200] * 24, [r.text for r in responses if r.status_code != 200]
        ids = {r.json()["order"]["id"] for r in responses}
        assert len(ids) == 24
        listed = httpx.get(url, params={"top": 100}, headers=headers).json()["orders"]
        assert {o["id"] for o in listed} == ids
        # Whichever process answers /metrics, it counts what both did.
        for _ in range(6):
            exposition = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert metric(exposition, 'printwork_orders_created_total{environment="sandbox",face="prodigi_v4"}') == 24
            assert metric(exposition, 'printwork_http_request_duration_seconds_count'
                                      '{face="prodigi_v4",method="POST",route="/v4.0/orders",status="200"}') == 24
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            raise
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def _answers(url: str, headers: dict) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_worker_on_a_host_of_its_own_serves_its_metrics(test_db, tmp_path):
    port = free_port()
    env = {**os.environ, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_DATABASE_URL": test_db.url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "worker", "--metrics-port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        exposition = wait_until_answering(f"http://127.0.0.1:{port}/metrics", worker)
        assert "# TYPE printwork_pipeline_jobs_seconds histogram" in exposition
        assert "# TYPE printwork_callback_attempts_total counter" in exposition
    finally:
        worker.terminate()
        worker.wait(timeout=45)
