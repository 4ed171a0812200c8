"""The order process in real processes: API server, embedded or separate workers, the queue.

Runs on SQLite with the embedded (SQLite) queue, and on PostgreSQL with Redis; a backend that
cannot be reached is skipped with the reason.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from printwork.core.callbacks.events import events_t
from printwork.core.orders.repository import charges_t, shipments_t
from tests.servers import REDIS_URL, free_port, metric, running_servers, wait_until_answering

PHOTO_ORDER_SKU = "GLOBAL-PHO-4X6"


@pytest.fixture
def backend(test_db) -> dict[str, str]:
    """Environment for servers and workers: SQLite+embedded queue, or PostgreSQL+Redis."""
    env = {"PRINTWORK_DATABASE_URL": test_db.url, "PRINTWORK_ALLOW_PRIVATE_URLS": "1"}
    if test_db.kind == "postgresql":
        try:
            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
            client.flushdb()
        except redis.RedisError as exc:
            pytest.skip(f"Redis at {REDIS_URL} cannot be reached: {exc}")
        env["PRINTWORK_QUEUE_URL"] = REDIS_URL
    return env


def order(url: str, **changes) -> dict:
    body = {
        "shippingMethod": "Budget",
        "recipient": {"name": "Ann", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                  "countryCode": "GB", "townOrCity": "Town"}},
        "items": [{"sku": PHOTO_ORDER_SKU, "copies": 1, "assets": [{"printArea": "default", "url": url}]}],
    }
    body.update(changes)
    return body


@contextmanager
def serving(data_dir: Path, env: dict[str, str], *, workers: bool):
    """`printwork serve` on a free port, with or without its embedded workers."""
    port = free_port()
    full_env = {**os.environ, "PRINTWORK_DATA_DIR": str(data_dir), "PRINTWORK_SEED_DEMO": "0",
                "PRINTWORK_API_KEY_CACHE_SECONDS": "0", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port),
         "--workers" if workers else "--no-workers"],
        env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/v4.0/orders", process, 30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(fetch, predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last seen: {value}"
        time.sleep(0.1)


def test_an_order_completes_in_the_background_and_sandbox_controls_move_it(
        backend, tmp_path, make_key, image_server, test_db):
    key = {"X-API-Key": make_key()}
    env = {**backend, "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "300"}
    with serving(tmp_path, env, workers=True) as url:
        created = httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"), headers=key).json()
        order_url = f"{url}/v4.0/orders/{created['order']['id']}"

        def fetch():
            return httpx.get(order_url, headers=key).json()["order"]

        # The simulated lab takes five minutes a step; the order waits there.
        waiting = wait_for(fetch, lambda o: o["status"]["details"]["inProduction"] == "InProgress", 30)
        assert waiting["shipments"][0]["status"] == "Processing"
        # One step: the lab starts production now, and the answer comes once that is done.
        step = httpx.post(f"{url}/sandbox/v1/orders/{created['order']['id']}/advance", headers=key, timeout=30)
        assert step.status_code == 200, step.text
        with test_db.db.read() as session:
            assert session.execute(select(shipments_t.c.lab_stage)).scalars().all() == ["InProduction"]
        assert step.json()["order"]["status"]["stage"] == "InProgress"
        moved = httpx.post(f"{url}/sandbox/v1/orders/{created['order']['id']}/advance", json={"to": "shipped"},
                           headers=key, timeout=30)
        assert moved.status_code == 200, moved.text
        done = moved.json()["order"]
        assert done["status"]["stage"] == "Complete"
        assert done["shipments"][0]["tracking"]["number"].startswith("SBX")
        thumbnail = httpx.get(done["items"][0]["assets"][0]["thumbnailUrl"])
        assert thumbnail.status_code == 200


def test_an_unreachable_asset_ends_in_error_after_the_retries(backend, tmp_path, make_key, image_server):
    key = {"X-API-Key": make_key()}
    env = {**backend, "PRINTWORK_DOWNLOAD_RETRY_DELAYS_SANDBOX": "[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2]"}
    with serving(tmp_path, env, workers=True) as url:
        created = httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/nowhere.jpg"), headers=key).json()
        order_url = f"{url}/v4.0/orders/{created['order']['id']}"
        final = wait_for(lambda: httpx.get(order_url, headers=key).json()["order"],
                         lambda o: o["items"][0]["assets"][0]["status"] == "Error", 60)
        codes = [i["errorCode"] for i in final["status"]["issues"]]
        assert codes == ["order.items.assets.NotDownloaded"] * 9 + ["order.items.assets.FailedToDownloaded"]
        assert final["status"]["details"]["downloadAssets"] == "Error"


def test_killing_the_worker_at_random_moments_loses_and_duplicates_nothing(
        backend, tmp_path, make_key, image_server, test_db):
    key = {"X-API-Key": make_key()}
    env = {**os.environ, **backend, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0.3",
           "PRINTWORK_JOB_LEASE_SECONDS": "2", "PRINTWORK_RECONCILE_INTERVAL_SECONDS": "0.5",
           "PRINTWORK_RECONCILE_GRACE_SECONDS": "1"}

    def start_worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "worker", "--threads", "2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    server_env = {k: v for k, v in backend.items() if k != "PRINTWORK_DATABASE_URL"}
    with running_servers(test_db.url, tmp_path, **server_env) as (url,):
        order_ids = [
            httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"), headers=key)
            .json()["order"]["id"]
            for _ in range(12)
        ]
        rng = random.Random(1234)
        worker = start_worker()
        try:
            for _ in range(5):
                time.sleep(rng.uniform(0.2, 1.2))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                worker = start_worker()

            def stages():
                listed = httpx.get(f"{url}/v4.0/orders?top=100", headers=key).json()["orders"]
                return {o["id"]: o["status"]["stage"] for o in listed}

            wait_for(stages, lambda s: set(s.values()) == {"Complete"} and len(s) == len(order_ids), 120)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    with test_db.db.read() as session:
        shipments = dict(session.execute(select(shipments_t.c.order_id, func.count())
                                         .group_by(shipments_t.c.order_id)).all())
        charges = dict(session.execute(select(charges_t.c.order_id, func.count())
                                       .group_by(charges_t.c.order_id)).all())
    assert sorted(shipments.values()) == [1] * len(order_ids)
    assert sorted(charges.values()) == [2] * len(order_ids)
    for order_id in order_ids:
        files = [p for p in (tmp_path / "files" / "orders" / order_id[4:]).rglob("*") if p.is_file()]
        assert len(files) == 3, files  # original, print file, thumbnail; no leftovers


def test_no_callback_is_lost_when_the_worker_is_killed_mid_delivery(
        backend, tmp_path, make_key, image_server, test_db):
    from tests.process.test_callbacks import Receiver

    receiver = Receiver()
    receiver.delay = 0.1  # deliveries are in flight when the worker dies
    key = {"X-API-Key": make_key()}
    env = {**os.environ, **backend, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0",
           "PRINTWORK_JOB_LEASE_SECONDS": "2", "PRINTWORK_RECONCILE_INTERVAL_SECONDS": "0.5",
           "PRINTWORK_RECONCILE_GRACE_SECONDS": "1",
           "PRINTWORK_CALLBACK_RETRY_DELAYS_SANDBOX": "[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]"}

    def start_worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "worker", "--threads", "2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    server_env = {k: v for k, v in backend.items() if k != "PRINTWORK_DATABASE_URL"}
    try:
        with running_servers(test_db.url, tmp_path, **server_env) as (url,):
            for _ in range(8):
                body = {**order(f"{image_server.url}/photo.jpg"), "callbackUrl": receiver.url}
                httpx.post(f"{url}/v4.0/orders", json=body, headers=key).raise_for_status()
            worker = start_worker()
            try:
                rng = random.Random(99)
                for _ in range(4):
                    time.sleep(rng.uniform(0.5, 1.5))
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    worker = start_worker()

                def statuses():
                    with test_db.db.read() as session:
                        return session.execute(select(events_t.c.public_id, events_t.c.status)).all()

                # Every order completes with four callbacks, and every one is delivered.
                final = wait_for(statuses, lambda rows: len(rows) == 32 and {s for _, s in rows} == {"Delivered"}, 120)
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
    finally:
        receiver.close()
    received_ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert {public_id for public_id, _ in final} <= received_ids  # at least once, each


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (a thread's children are listed under that thread)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_serve_runs_its_workers_in_a_child_that_ends_with_it(backend, tmp_path, make_key, image_server, stop):
    """The child's image work runs in niced processes (so a backlog never starves requests); its jobs do not."""
    key = {"X-API-Key": make_key()}
    port = free_port()
    env = {**os.environ, **backend, "PRINTWORK_DATA_DIR": str(tmp_path), "PRINTWORK_SEED_DEMO": "0",
           "PRINTWORK_API_KEY_CACHE_SECONDS": "0", "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0",
           "PRINTWORK_EMBEDDED_WORKER_NICE": "7"}
    server = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        workers = wait_for(lambda: [c for c in _children(server.pid)
                                    if b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()], bool, 30)
        [worker] = workers
        wait_for(lambda: _answers(url), bool, 30)
        created = httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"), headers=key).json()
        done = wait_for(lambda: httpx.get(f"{url}/v4.0/orders/{created['order']['id']}", headers=key).json()["order"],
                        lambda o: o["status"]["stage"] == "Complete", 60)
        assert done["shipments"][0]["status"] == "Shipped"
        # The worker child counts into the server's /metrics: its order-process jobs are there.
        exposition = httpx.get(f"{url}/metrics").text
        assert metric(exposition, 'printwork_pipeline_jobs_seconds_count{outcome="ok"}') >= 1
        assert metric(exposition, 'printwork_orders_created_total{environment="sandbox",face="prodigi_v4"}') == 1
        base = _niceness(server.pid, server.pid)
        assert {_niceness(worker, int(t)) - base for t in os.listdir(f"/proc/{worker}/task")} == {0}
        # The processes that downloaded and drew run lower; the jobs (and their transactions) do not.
        slow = [child for child in _children(worker) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
        assert slow and {_niceness(child, child) - base for child in slow} == {7}
        if stop == "terminate":
            server.terminate()
            server.wait(timeout=45)
        else:
            server.kill()  # no chance to stop its child: the child notices on its own
            server.wait(timeout=10)
        wait_for(lambda: _gone(worker), bool, 45)
    finally:
        if server.poll() is None:
            server.kill()


def _niceness(pid: int, thread: int) -> int:
    return int(Path(f"/proc/{pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v4.0/orders", timeout=1).status_code == 401
    except httpx.TransportError:
        return False


def test_a_redis_queue_left_by_an_earlier_version_does_not_stop_the_new_one(settings, test_db):
    """The earlier plain queue was a list under the name the priority queue would have used."""
    from printwork.jobs import JobQueue

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} cannot be reached: {exc}")
    client.rpush("huey.redis.printwork", b"an earlier version's job")
    jobs = JobQueue(settings.model_copy(update={"queue_url": REDIS_URL}), test_db.db, None)
    try:
        jobs.events_due([1, 2])
        jobs.order_due(3)
        assert jobs.huey.pending_count() == 2
    finally:
        jobs.close()
        client.flushdb()
