"""Does it hold when things break? Scenarios on loopback, one line each with its figure.

Run:  make reliability            (every scenario; the load runs PRINTWORK_RELIABILITY_LOAD_SECONDS, 600 by default)
      .venv/bin/python bench/reliability.py --only idempotency,downloads --load-seconds 60

Each scenario starts its own `printwork` processes on a fresh data directory (SQLite, or the
PostgreSQL and Redis of this machine where it says so), drives them as clients and operators
would, and checks what a user would see: the orders that exist, the callbacks received, the
answers given. A scenario that cannot reach PostgreSQL or Redis says so and is skipped.
The table is written to bench/results/reliability-<time>.md; bench/README.md keeps the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import QUOTE  # noqa: E402
from bench.served import image_server  # noqa: E402
from bench.serving import free_port, wait_until_up  # noqa: E402

POSTGRES_URL = os.environ.get("PRINTWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PRINTWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


class Skipped(Exception):
    pass


@dataclass
class Result:
    name: str
    ok: bool
    figure: str
    seconds: float


SCENARIOS: list[tuple[str, Callable[[argparse.Namespace], str]]] = []


def scenario(name: str):
    def register(function):
        SCENARIOS.append((name, function))
        return function
    return register


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def order_body(url: str, reference: str = "reliability", **changes) -> dict:
    body = {
        "merchantReference": reference,
        "shippingMethod": "Budget",
        "recipient": {"name": "Ann Example", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                          "countryCode": "GB", "townOrCity": "London"}},
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 1, "assets": [{"printArea": "default", "url": url}]}],
    }
    body.update(changes)
    return body


# --- Printwork processes -------------------------------------------------------------------

def _postgres_database() -> str:
    """A fresh, empty schema of this machine's PostgreSQL for one scenario."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3) as connection:
            connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
            connection.execute("CREATE SCHEMA public")
    except psycopg.Error as exc:
        raise Skipped(f"PostgreSQL at {POSTGRES_URL} cannot be reached: {exc}") from None
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        raise Skipped(f"Redis at {REDIS_URL} cannot be reached: {exc}") from None
    return POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)


class Deployment:
    """A data directory, its database and the Printwork processes running over it."""

    def __init__(self, root: Path, backend: str = "sqlite", **settings: str) -> None:
        self.data_dir = root / f"data-{backend}-{random.randrange(10**6)}"
        self.data_dir.mkdir(parents=True)
        self.backend = backend
        self.env = {**os.environ, "PRINTWORK_DATA_DIR": str(self.data_dir), "PRINTWORK_SEED_DEMO": "1",
                    "PRINTWORK_ALLOW_PRIVATE_URLS": "1", "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0",
                    "PRINTWORK_API_KEY_CACHE_SECONDS": "2"}
        if backend == "postgresql":
            self.env["PRINTWORK_DATABASE_URL"] = _postgres_database()
            self.env["PRINTWORK_QUEUE_URL"] = REDIS_URL
        self.env.update(settings)
        self.processes: list[subprocess.Popen] = []
        self.database_url = self.env.get("PRINTWORK_DATABASE_URL") or \
            f"sqlite:///{(self.data_dir / 'printwork.db').resolve()}"
        self._migrate()

    def _migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "printwork.cli.main", "db", "upgrade"], env=self.env, check=True,
                       capture_output=True)
        from printwork.bootstrap import prepare
        from printwork.config import Settings
        from printwork.db import Database

        database = Database(self.database_url)
        try:
            prepare(Settings(data_dir=self.data_dir, database_url=self.database_url, seed_demo=True), database)
        finally:
            database.dispose()

    def database(self):
        from printwork.db import Database

        return Database(self.database_url)

    def key(self, merchant: str, environment: str = "sandbox") -> tuple[str, int]:
        from printwork.core.merchants.service import create_merchant_key

        database = self.database()
        try:
            with database.transaction() as session:
                issued = create_merchant_key(session, merchant, environment)
                return issued.key, issued.merchant_id
        finally:
            database.dispose()

    # Each process gets a process group of its own (to be stopped with its children) but stays in
    # this session: Linux puts every session in a scheduling group of its own (autogroup), and a
    # worker in a group of its own gets a full share of the CPU whatever its nice value.

    def _log(self, kind: str):
        """Where a process's own log goes: kept beside its data for as long as the scenario runs."""
        return (self.data_dir / f"{kind}-{len(self.processes)}.log").open("ab")

    def serve(self, *, workers: bool, processes: int = 1, port: int | None = None) -> str:
        port = port or free_port()
        command = [sys.executable, "-m", "printwork.cli.main", "serve", "--port", str(port),
                   "--workers" if workers else "--no-workers", "--processes", str(processes)]
        self.processes.append(subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL,
                                               stderr=self._log("serve"), process_group=0))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", process=self.processes[-1])
        return url

    def killable_servers(self) -> "ServerFork":
        """API servers to kill over and over, forked from a process that has imported Printwork once."""
        return ServerFork(self.env)

    def worker(self, threads: int = 2, slow_work_nice: int = 0) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "printwork.cli.main", "worker", "--threads", str(threads),
                                    "--slow-work-nice", str(slow_work_nice)],
                                   env=self.env, stdout=subprocess.DEVNULL, stderr=self._log("worker"),
                                   process_group=0)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


class ServerFork:
    """Forks one uvicorn server of the Printwork app at a time from a process that already imported it.

    A `kill -9` scenario restarts the server a hundred times; a fresh interpreter pays two seconds
    of imports each time, a fork a few milliseconds. The child is a whole server: it builds the
    app, opens the database and serves requests exactly as `uvicorn --factory` does.
    """

    _PROGRAM = """
import os, sys
import uvicorn
import printwork.api.app
for line in sys.stdin:
    port = int(line)
    pid = os.fork()
    if pid == 0:
        uvicorn.run("printwork.api.app:create_app_from_environment", factory=True, host="127.0.0.1", port=port,
                    log_level="critical")
        os._exit(0)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("gone", flush=True)
"""

    def __init__(self, env: dict) -> None:
        self.parent = subprocess.Popen([sys.executable, "-c", self._PROGRAM], env=env, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def start(self) -> tuple[int, str]:
        port = free_port()
        self.parent.stdin.write(f"{port}\n")
        self.parent.stdin.flush()
        pid = int(self.parent.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", process=self.parent)
        return pid, url

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        assert self.parent.stdout.readline().strip() == "gone"

    def close(self) -> None:
        self.parent.stdin.close()
        self.parent.wait(timeout=10)


@contextmanager
def deployment(args, backend: str = "sqlite", **settings: str):
    root = Path(tempfile.mkdtemp(prefix="printwork-reliability-", dir=args.work_dir))
    made = Deployment(root, backend, **settings)
    try:
        yield made
    except BaseException:
        made.stop()
        print(f"  (kept {root} with the processes' logs for a look)", file=sys.stderr)
        raise
    made.stop()
    shutil.rmtree(root, ignore_errors=True)


@contextmanager
def photo_server():
    url, httpd = image_server()
    try:
        yield f"{url}/photo.jpg"
    finally:
        httpd.shutdown()


def wait_for(what: str, fetch: Callable[[], object], done: Callable[[object], bool], seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s (last seen: {str(value)[:300]})")
        time.sleep(0.25)


def stages(url: str, key: str, ids: list[str]) -> collections.Counter:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
        return collections.Counter(client.get(f"/v4.0/orders/{i}").json()["order"]["status"]["stage"] for i in ids)


# --- scenarios -----------------------------------------------------------------------------

@scenario("idempotency: 64 concurrent creates, 8 keys")
def idempotency(args) -> str:
    with deployment(args) as pw, photo_server() as photo:
        url = pw.serve(workers=False)
        key_a, _ = pw.key("Shop A")
        key_b, _ = pw.key("Shop B")
        idempotency_keys = [f"checkout-{n}" for n in range(8)]

        def create(n: int) -> dict:
            body = order_body(photo, f"cart-{n % 8}", idempotencyKey=idempotency_keys[n % 8])
            answer = httpx.post(f"{url}/v4.0/orders", json=body, headers={"X-API-Key": key_a}, timeout=60)
            check(answer.status_code == 200, f"create answered {answer.status_code}: {answer.text[:200]}")
            return answer.json()

        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(create, range(64)))
        ids = {a["order"]["id"] for a in answers}
        outcomes = collections.Counter(a["outcome"] for a in answers)
        check(len(ids) == 8, f"{len(ids)} orders from 8 idempotency keys")
        listed = httpx.get(f"{url}/v4.0/orders", params={"top": 100}, headers={"X-API-Key": key_a}).json()
        check(len(listed["orders"]) == 8, f"the merchant lists {len(listed['orders'])} orders, not 8")
        check(outcomes["Created"] == 8 and outcomes["AlreadyExists"] == 56, f"outcomes {dict(outcomes)}")
        original = next(a["order"] for a in answers if a["order"]["merchantReference"] == "cart-0")
        changed = order_body(photo, "a different cart", idempotencyKey=idempotency_keys[0])
        changed["recipient"]["name"] = "Somebody Else"
        replay = httpx.post(f"{url}/v4.0/orders", json=changed, headers={"X-API-Key": key_a}).json()
        check(replay["outcome"] == "AlreadyExists" and replay["order"]["id"] == original["id"], "changed body")
        again = httpx.get(f"{url}/v4.0/orders/{original['id']}", headers={"X-API-Key": key_a}).json()["order"]
        check(again["recipient"]["name"] == "Ann Example" and again["merchantReference"] == "cart-0",
              "the original order changed")
        other = httpx.post(f"{url}/v4.0/orders", json=order_body(photo, idempotencyKey=idempotency_keys[0]),
                           headers={"X-API-Key": key_b}).json()
        check(other["outcome"] == "Created" and other["order"]["id"] not in ids, "the key is not per merchant")
        return (f"8 orders, {outcomes['Created']} Created + {outcomes['AlreadyExists']} AlreadyExists; "
                "same key, other body: AlreadyExists with the original unchanged; same key, other merchant: "
                "its own order")


def _acknowledged_writes(url: str, key: str, photo: str, stop: threading.Event, acknowledged: list,
                         last_ack: list) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as client:
        while not stop.is_set():
            try:
                answer = client.post("/v4.0/orders", json=order_body(photo))
            except httpx.TransportError:
                return
            if answer.status_code == 200:
                acknowledged.append(answer.json()["order"]["id"])
                last_ack[0] = time.monotonic()


@scenario("kill -9 of a writing API server on SQLite")
def kill_api(args) -> str:
    kills = args.api_kills
    with deployment(args) as pw, photo_server() as photo:
        key, _ = pw.key("Shop A")
        acknowledged: list[str] = []
        gaps: list[float] = []
        servers = pw.killable_servers()
        for _ in range(kills):
            pid, url = servers.start()
            stop, last_ack = threading.Event(), [0.0]
            writers = [threading.Thread(target=_acknowledged_writes, args=(url, key, photo, stop, acknowledged,
                                                                            last_ack)) for _ in range(4)]
            for writer in writers:
                writer.start()
            time.sleep(random.uniform(0.05, 0.8))
            killed_at = time.monotonic()
            servers.kill(pid)
            stop.set()
            for writer in writers:
                writer.join()
            if last_ack[0]:
                gaps.append((killed_at - last_ack[0]) * 1000)
        servers.close()
        connection = sqlite3.connect(pw.data_dir / "printwork.db")
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        connection.close()
        check(integrity == "ok", f"integrity_check: {integrity}")
        url = pw.serve(workers=False)
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            lost = [i for i in acknowledged if client.get(f"/v4.0/orders/{i}").status_code != 200]
        check(not lost, f"{len(lost)} acknowledged orders lost, e.g. {lost[:5]}")
        return (f"{kills} kills, {len(acknowledged)} acknowledged orders, 0 lost, integrity_check ok; "
                f"each kill within median {statistics.median(abs(g) for g in gaps):.1f} ms of a 2xx "
                f"(the nearest {min(abs(g) for g in gaps):.2f} ms)")


class CallbackReceiver:
    """Records every callback; answers by the path's mode: ok, 500, 302, 410, 429, hang."""

    def __init__(self, hang_seconds: float = 30.0) -> None:
        self.received: list[tuple[float, str, str, bytes]] = []  # (when, mode, webhook-id, body)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = self.path.strip("/").split("/")[0]
                with receiver.lock:
                    receiver.received.append((time.monotonic(), mode, self.headers.get("webhook-id", ""), body))
                status, headers = {"ok": (204, {}), "500": (500, {}), "302": (302, {"Location": "http://127.0.0.1:9/"}),
                                   "410": (410, {}), "429": (429, {"Retry-After": "4"})}.get(mode, (204, {}))
                if mode == "hang":
                    time.sleep(hang_seconds)
                    status = 204
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def by_mode(self, mode: str) -> list[tuple[float, str, str, bytes]]:
        with self.lock:
            return [r for r in self.received if r[1] == mode]

    def close(self) -> None:
        self.httpd.shutdown()


@scenario("kill -9 of a worker during downloads and callbacks, 20 times")
def kill_worker(args) -> str:
    receiver = CallbackReceiver()
    try:
        with deployment(args, PRINTWORK_CALLBACK_RETRY_DELAYS_SANDBOX="[0.5,1,1,1,1,1,1,1,1,1,1,1,1,1]",
                        PRINTWORK_RECONCILE_GRACE_SECONDS="2", PRINTWORK_RECONCILE_INTERVAL_SECONDS="1",
                        PRINTWORK_JOB_LEASE_SECONDS="5") as pw, photo_server() as photo:
            url = pw.serve(workers=False)
            key, _ = pw.key("Shop A")
            worker = pw.worker()
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
                ids = [client.post("/v4.0/orders", json=order_body(photo, f"k{n}", callbackUrl=f"{receiver.url}/ok")
                                   ).json()["order"]["id"] for n in range(40)]
            for _ in range(args.worker_kills):
                time.sleep(random.uniform(0.3, 1.5))
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                pw.processes.remove(worker)
                worker = pw.worker()
            wait_for("every order Complete", lambda: stages(url, key, ids), lambda c: c.get("Complete") == len(ids),
                     180)
            from sqlalchemy import func, select

            from printwork.core.callbacks.events import DELIVERED, events_t
            from printwork.core.orders.repository import charges_t, shipments_t

            database = pw.database()

            def undelivered() -> int:
                with database.read() as session:
                    return session.execute(select(func.count()).select_from(events_t)
                                           .where(events_t.c.status != DELIVERED)).scalar_one()

            wait_for("every callback delivered", undelivered, lambda n: n == 0, 120)
            with database.read() as session:
                event_ids = set(session.execute(select(events_t.c.public_id)).scalars())
                shipments = session.execute(select(shipments_t.c.order_id, func.count()).group_by(
                    shipments_t.c.order_id)).all()
                charges = session.execute(select(charges_t.c.order_id, charges_t.c.charge_type, func.count())
                                          .group_by(charges_t.c.order_id, charges_t.c.charge_type)).all()
                per_type = session.execute(select(events_t.c.order_id, events_t.c.event_type, func.count()).group_by(
                    events_t.c.order_id, events_t.c.event_type)).all()
            database.dispose()
            received = collections.Counter(r[2] for r in receiver.by_mode("ok"))
            check(set(received) == event_ids, f"{len(event_ids - set(received))} events never received")
            check(all(n == 1 for _, n in shipments) and len(shipments) == len(ids), f"shipments {shipments[:5]}")
            check(all(n == 1 for _, _, n in charges) and len({o for o, _, _ in charges}) == len(ids),
                  f"charges {charges[:5]}")
            check(all(n == 1 for _, _, n in per_type), "an event of one type was made twice for an order")
            again = sum(n - 1 for n in received.values())
            return (f"{args.worker_kills} kills, {len(ids)} orders Complete, {len(event_ids)} events all received "
                    f"({again} received more than once, same id), 1 shipment and one charge of each kind per order, "
                    "no event made twice")
    finally:
        receiver.close()


@scenario("callback receivers that fail, redirect, go away, throttle or hang")
def receivers(args) -> str:
    receiver = CallbackReceiver(hang_seconds=60)
    watch = 30.0
    try:
        with deployment(args, PRINTWORK_CALLBACK_RETRY_DELAYS_SANDBOX="[1,2,3,4,5,6,7,8,9,10,11,12,13,14]",
                        PRINTWORK_CALLBACK_TIMEOUT_SECONDS="3") as pw, photo_server() as photo:
            url = pw.serve(workers=True)
            modes = ["500", "302", "410", "429", "hang"]
            keys = {mode: pw.key(f"Receiver {mode}")[0] for mode in [*modes, "ok"]}
            started = time.monotonic()
            for mode in modes:
                body = order_body(photo, mode, callbackUrl=f"{receiver.url}/{mode}")
                created = httpx.post(f"{url}/v4.0/orders", json=body, headers={"X-API-Key": keys[mode]}).json()
                httpx.post(f"{url}/v4.0/orders/{created['order']['id']}/actions/cancel", headers={"X-API-Key": keys[mode]})
            # While those fail and hang, another merchant's callbacks must keep flowing.
            lags = []
            healthy_sent = []
            while time.monotonic() - started < watch:
                sent_at = time.monotonic()
                created = httpx.post(f"{url}/v4.0/orders", json=order_body(photo, "ok", callbackUrl=f"{receiver.url}/ok"),
                                     headers={"X-API-Key": keys["ok"]}).json()
                healthy_sent.append((sent_at, created["order"]["id"]))
                time.sleep(1.0)
            time.sleep(3)
            firsts: dict[str, float] = {}
            for when, _, _, body in receiver.by_mode("ok"):
                order_id = json.loads(body)["data"]["order"]["id"] if b'"order"' in body else None
                if order_id and order_id not in firsts:
                    firsts[order_id] = when
            lags = [(firsts[i] - at) * 1000 for at, i in healthy_sent if i in firsts]
            check(len(lags) == len(healthy_sent), f"{len(healthy_sent) - len(lags)} healthy merchant's orders "
                  "got no callback")
            parts = []
            for mode in modes:
                got = receiver.by_mode(mode)
                first_event = got[0][2] if got else None
                times = [w for w, _, event, _ in got if event == first_event]
                gaps = [b - a for a, b in zip(times, times[1:])]
                check(len(times) >= 2 or mode == "hang", f"{mode}: {len(times)} attempts; received " + str(
                    [(round(w - started, 1), m, e[-6:]) for w, m, e, _ in receiver.received if m != "ok"]))
                if mode == "429":
                    check(all(g >= 3.9 for g in gaps), f"429 with Retry-After 4 was retried after {gaps}")
                if mode == "hang":
                    check(all(g >= 2.9 for g in gaps), f"a hanging receiver was retried before its timeout: {gaps}")
                parts.append(f"{mode}: {len(times)} attempts, gaps {'/'.join(f'{g:.1f}' for g in gaps[:4])} s")
            return (f"in {watch:.0f} s — " + "; ".join(parts) +
                    f"; meanwhile another merchant's callbacks arrived p50 {pct(lags, 50):.0f} ms, "
                    f"max {max(lags):.0f} ms after its order")
    finally:
        receiver.close()


@scenario("download attacks: oversized, slow-drip, private redirects, DNS rebinding, pixel bombs")
def downloads(args) -> str:
    import ipaddress

    import pyvips

    from printwork.core.assets import imaging
    from printwork.core.assets.download import DownloadFailed, DownloadLimits, download, guarded_client

    canary_hits = []

    class Canary(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            canary_hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    canary = ThreadingHTTPServer(("127.0.0.2", 0), Canary)
    canary_port = canary.server_address[1]
    threading.Thread(target=canary.serve_forever, daemon=True).start()
    bomb = pyvips.Image.black(60_000, 60_000).pngsave_buffer(compression=9)

    class Attacker(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            path = self.path
            if path == "/huge":
                self.send_response(200)
                self.send_header("Content-Length", str(10 * 1024 * 1024 * 1024))
                self.end_headers()
            elif path == "/undeclared-huge":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(2000):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    return
            elif path == "/drip":
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                try:
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.05)
                except OSError:
                    return
            elif path.startswith("/to-"):
                target = {"/to-canary": f"http://127.0.0.2:{canary_port}/redirected",
                          "/to-canary-by-name": f"http://canary.internal:{canary_port}/redirected-by-name",
                          "/to-metadata": "http://169.254.169.254/latest/meta-data/"}[path]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/bomb.png":
                self.send_response(200)
                self.send_header("Content-Length", str(len(bomb)))
                self.end_headers()
                self.wfile.write(bomb)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    attacker.daemon_threads = True
    attacker_port = attacker.server_address[1]
    threading.Thread(target=attacker.serve_forever, daemon=True).start()

    answers: dict[str, list[str]] = collections.defaultdict(list)

    def resolve(host: str, port: int) -> list[str]:
        # The resolver the attacker controls: "rebind" answers a public address first, then a private one.
        answers[host].append("")
        if host == "rebind.example":
            return ["127.0.0.1"] if len(answers[host]) == 1 else ["127.0.0.2"]
        if host == "canary.internal":
            return ["127.0.0.2"]
        if host == "attacker.example":
            return ["127.0.0.1"]
        raise OSError(f"no such host {host}")

    def public(address) -> bool:  # 127.0.0.1 stands in for the internet; everything else is private
        return address == ipaddress.ip_address("127.0.0.1")

    limits = DownloadLimits(max_bytes=5 * 1024 * 1024, connect_timeout=2, read_timeout=2, deadline=3)
    client = guarded_client(limits, resolve=resolve, permitted=public)
    base = f"http://attacker.example:{attacker_port}"
    cases = {
        "declared 10 GiB": f"{base}/huge",
        "undeclared 125 MiB": f"{base}/undeclared-huge",
        "slow drip": f"{base}/drip",
        "redirect to a private address": f"{base}/to-canary",
        "redirect to a name of a private address": f"{base}/to-canary-by-name",
        "redirect to cloud metadata": f"{base}/to-metadata",
        "DNS rebinding, first fetch": f"http://rebind.example:{canary_port}/rebound",
        "DNS rebinding, second fetch": f"http://rebind.example:{canary_port}/rebound",
        "private address given directly": f"http://127.0.0.2:{canary_port}/direct",
    }
    work = Path(tempfile.mkdtemp(prefix="printwork-downloads-", dir=args.work_dir))
    refused = {}
    try:
        for name, url in cases.items():
            started = time.monotonic()
            try:
                download(url, work / "file", client, limits)
                raise AssertionError(f"{name}: downloaded")
            except DownloadFailed as exc:
                refused[name] = (str(exc), time.monotonic() - started)
                print(f"  {name}: {refused[name][1]:.1f} s: {exc}", flush=True)
        got = download(f"{base}/bomb.png", work / "bomb", client, limits)
        try:
            imaging.inspect(got.path, imaging.PRINT_FORMATS)
            raise AssertionError("the pixel bomb was accepted")
        except imaging.UnusableImage as exc:
            refused["pixel bomb (60000x60000 PNG)"] = (str(exc), 0.0)
        check(list(work.iterdir()) == [work / "bomb"], f"files left behind: {list(work.iterdir())}")
    finally:
        client.close()
        attacker.shutdown()
        canary.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    check(not canary_hits, f"the loopback canary was hit: {canary_hits}")
    slowest = max(seconds for _, seconds in refused.values())
    return (f"{len(refused)} of {len(refused)} refused (slowest after {slowest:.1f} s), canary hits 0; " +
            "; ".join(f"{name}: {reason[:60]}" for name, (reason, _) in list(refused.items())[:3]) + " …")


@scenario("another merchant's ids on every endpoint of every face; revoked keys")
def probes(args) -> str:
    with deployment(args, PRINTWORK_API_KEY_CACHE_SECONDS="2") as pw, photo_server() as photo:
        url = pw.serve(workers=True)
        key_a, merchant_a = pw.key("Victim Shop")
        key_b, merchant_b = pw.key("Probing Shop")
        a = {"X-API-Key": key_a}
        created = httpx.post(f"{url}/v4.0/orders", json=order_body(photo, "victim", callbackUrl="http://127.0.0.1:9/x"),
                             headers=a).json()["order"]
        done = wait_for("the victim's order to complete",
                        lambda: httpx.get(f"{url}/v4.0/orders/{created['id']}", headers=a).json()["order"],
                        lambda o: o["status"]["stage"] == "Complete", 60)
        number = created["id"].removeprefix("ord_")
        item = done["items"][0]["id"]
        asset = done["items"][0]["assets"][0]["id"]
        shipment = done["shipments"][0]["id"]
        events = httpx.get(f"{url}/platform/v1/orders/{created['id']}/callbacks", headers=a).json()["callbacks"]
        event = events[0]["id"]
        ids = {"order_id": created["id"], "orderId": created["id"], "id": number, "item_id": item, "itemId": item,
               "asset_id": asset, "assetId": asset, "shipment_id": shipment, "shipmentId": shipment,
               "event_id": event, "eventId": event, "image_id": asset.replace("ast_", ""),
               "imageId": asset.replace("ast_", "")}
        v3 = {"X-Pwinty-MerchantId": str(merchant_b), "X-Pwinty-REST-API-Key": key_b}
        routes = _routes()
        from printwork.core.labs.service import create_lab_key

        from sqlalchemy import select

        from printwork.core.orders.repository import shipments_t

        database = pw.database()
        with database.transaction() as session:
            victim_lab = session.execute(select(shipments_t.c.lab_code)).scalar_one()
            lab_codes = _lab_codes(session)
            prober_lab = next(code for code in lab_codes if code != victim_lab)
            lab_key = create_lab_key(session, prober_lab, set(lab_codes)).key
        database.dispose()
        statuses: collections.Counter = collections.Counter()
        leaks = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for method, path in routes:
                concrete = path
                for name, value in ids.items():
                    concrete = concrete.replace("{" + name + "}", value)
                if "{" in concrete:
                    continue
                if concrete.startswith("/v3.0"):
                    concrete = concrete.replace(created["id"], number)
                if concrete.startswith("/v3.0"):
                    headers = v3
                elif concrete.startswith("/lab/"):
                    headers = {"X-API-Key": lab_key}  # another lab than the one making the order
                else:
                    headers = {"X-API-Key": key_b}
                answer = client.request(method, concrete, headers=headers, json=_probe_body(method, concrete, photo))
                statuses[answer.status_code] += 1
                if answer.status_code != 404:
                    print(f"  {method} {concrete} → {answer.status_code} {answer.text[:200]}", flush=True)
                if answer.status_code < 300 or "Victim" in answer.text or "victim" in answer.text:
                    leaks.append(f"{method} {concrete} → {answer.status_code} {answer.text[:120]}")
        check(not leaks, "another merchant's data was answered: " + " | ".join(leaks[:5]))
        check(set(statuses) <= {404}, f"answers other than 404: {dict(statuses)}")
        # A revoked key stops working within the key cache's time.
        key_c, _ = pw.key("Revoked Shop")
        check(httpx.get(f"{url}/v4.0/orders", headers={"X-API-Key": key_c}).status_code == 200, "fresh key refused")
        from printwork.core.merchants.service import revoke_key

        database = pw.database()
        with database.transaction() as session:
            revoke_key(session, key_c)
        database.dispose()
        revoked_at = time.monotonic()
        wait_for("the revoked key to be refused",
                 lambda: httpx.get(f"{url}/v4.0/orders", headers={"X-API-Key": key_c}).status_code,
                 lambda s: s == 401, 10)
        refused_after = time.monotonic() - revoked_at
        check(refused_after <= 2.5, f"the revoked key worked for {refused_after:.1f} s")
        return (f"{sum(statuses.values())} probes of {len(routes)} routes (v4, v3.0, platform, lab, sandbox): "
                f"all 404, none leaked; a revoked key was refused {refused_after:.1f} s after revocation "
                "(cache 2 s)")


def _routes() -> list[tuple[str, str]]:
    """Every route of every API face that names an order's things in its path, from the one
    table the app is wired from (the dashboard's own pages are probed by its tests)."""
    from printwork.api.app import HTTP_FACES

    found = []
    for face in HTTP_FACES:
        if face.name in ("operations", "dashboard"):
            continue
        for route in face.routes:
            if any(f"{{{name}}}" in route.path for name in ("order_id", "event_id", "shipment_id", "asset_id")):
                for method in sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
                    found.append((method, route.path))
    return found


def _lab_codes(session) -> list[str]:
    from sqlalchemy import select

    from printwork.core.catalog.models import Lab

    return list(session.execute(select(Lab.code)).scalars())


def _probe_body(method: str, path: str, photo: str) -> object:
    """A body each action would accept, so that only the order's owner decides the answer."""
    recipient = {"name": "Probe", "address": {"line1": "1 Road", "postalOrZipCode": "AB1 2CD", "countryCode": "GB",
                                               "townOrCity": "Town"}}
    bodies = {
        "updateshippingmethod": {"shippingMethod": "Express"},
        "updateshipping": {"shippingMethod": "Express"},
        "updaterecipient": recipient,
        "updatemetadata": {"metadata": {"probe": "yes"}},
        "/images/batch": [{"sku": "GLOBAL-PHO-4X6", "url": photo, "copies": 1, "sizing": "Crop"}],
        "/images": {"sku": "GLOBAL-PHO-4X6", "url": photo, "copies": 1, "sizing": "Crop"},
        "/status": {"status": "Cancelled"},
        "/fail": {"step": "assetDownload"},
        "/shipped": {"trackingNumber": "PROBE1"},
    }
    if method == "PUT":
        return {"countryCode": "GB", "recipientName": "Probe", "address1": "1 Road", "addressTownOrCity": "Town",
                "postalOrZipCode": "AB1 2CD", "preferredShippingMethod": "Budget"}
    for suffix, body in bodies.items():
        if path.endswith(suffix):
            return body
    return {} if method != "GET" else None


# --- load ----------------------------------------------------------------------------------

@dataclass
class LoadStats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    distinct_creates: set = field(default_factory=set)
    created_ids: set = field(default_factory=set)


async def _load(url: str, key: str, photo: str, seconds: float, readers: int, create_rate: float) -> LoadStats:
    """Shops polling as fast as `readers` clients can, while new orders arrive at `create_rate` a second.

    Creates are paced (open loop) rather than flat out: a shop's orders arrive at the rate its
    customers buy, and a rate the pipeline cannot keep up with for ten minutes measures a backlog,
    not the service. One create in ten repeats an earlier idempotency key; one in ten is followed
    by a cancel of a recent order.
    """
    stats = LoadStats()
    deadline = time.monotonic() + seconds
    recent: collections.deque = collections.deque(maxlen=500)
    limits = httpx.Limits(max_connections=readers + 64, max_keepalive_connections=readers + 64)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60, limits=limits) as client:
        async def timed(kind: str, request) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                answer = await request
            except httpx.TransportError as exc:
                stats.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                return None
            stats.latencies[kind].append((time.perf_counter() - started) * 1000)
            stats.statuses[(kind, answer.status_code)] += 1
            if answer.status_code >= 500:
                stats.failures.append(f"{kind} {answer.status_code} {answer.text[:200]}")
            return answer

        async def create(number: int) -> None:
            if random.random() < 0.10 and stats.distinct_creates:
                idem = random.choice(tuple(stats.distinct_creates))
            else:
                idem = f"load-{number}"
            answer = await timed("create", client.post("/v4.0/orders",
                                                       json=order_body(photo, idem, idempotencyKey=idem)))
            if answer is not None and answer.status_code == 200:
                body = answer.json()
                if body["outcome"] == "Created":
                    stats.distinct_creates.add(idem)
                stats.created_ids.add(body["order"]["id"])
                recent.append(body["order"]["id"])
            if recent and random.random() < 0.10:
                await timed("cancel", client.post(f"/v4.0/orders/{random.choice(recent)}/actions/cancel"))

        async def arrivals() -> None:
            pending: set[asyncio.Task] = set()
            number, began = 0, time.monotonic()
            while time.monotonic() < deadline:
                number += 1
                task = asyncio.create_task(create(number))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, began + number / create_rate - time.monotonic()))
            await asyncio.gather(*pending)

        async def reader() -> None:
            while time.monotonic() < deadline:
                roll = random.random()
                if roll < 0.55 and recent:
                    await timed("get", client.get(f"/v4.0/orders/{random.choice(recent)}"))
                elif roll < 0.75:
                    await timed("list", client.get("/v4.0/orders", params={"top": 10}))
                else:
                    await timed("quote", client.post("/v4.0/quotes", json=QUOTE))

        await asyncio.gather(arrivals(), *(reader() for _ in range(readers)))
    return stats


def _completion_seconds(database, merchant_id: int) -> list[float]:
    """Created to Complete for each completed order, from the order's own timestamps."""
    from sqlalchemy import select

    from printwork.core.orders.repository import orders_t

    with database.read() as session:
        rows = session.execute(select(orders_t.c.created_at, orders_t.c.updated_at).where(
            orders_t.c.merchant_id == merchant_id, orders_t.c.stage == "Complete")).all()
    return [(updated - created).total_seconds() for created, updated in rows]


def _load_scenario(args, backend: str) -> str:
    settings = {"PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "1"}
    readers, rate = 32, args.create_rate
    with deployment(args, backend, **settings) as pw, photo_server() as photo:
        if backend == "postgresql":
            url = pw.serve(workers=False, processes=2)
            # Here the workers share two cores with the API processes (and this load generator), so
            # their downloads and image work are niced as `printwork serve` nices its own; on hosts
            # of their own they need not be.
            pw.worker(threads=4, slow_work_nice=19)
            pw.worker(threads=4, slow_work_nice=19)
        else:
            url = pw.serve(workers=True)
        key, merchant_id = pw.key("Load Shop")
        started = time.monotonic()
        stats = asyncio.run(_load(url, key, photo, args.load_seconds, readers, rate))
        load_ended = time.monotonic()
        check(not stats.failures, f"{len(stats.failures)} requests failed (5xx or no answer), "
                                  f"e.g. {stats.failures[:3]}; the processes' logs are in {pw.data_dir}")
        from sqlalchemy import func, select

        from printwork.core.orders.repository import orders_t

        database = pw.database()
        with database.read() as session:
            in_database = session.execute(select(func.count()).select_from(orders_t)
                                          .where(orders_t.c.merchant_id == merchant_id)).scalar_one()
        check(in_database == len(stats.distinct_creates) == len(stats.created_ids),
              f"{in_database} orders stored, {len(stats.distinct_creates)} distinct creates answered Created, "
              f"{len(stats.created_ids)} distinct ids answered")

        def unsettled() -> int:
            with database.read() as session:
                return session.execute(select(func.count()).select_from(orders_t).where(
                    orders_t.c.merchant_id == merchant_id, orders_t.c.stage.notin_(("Complete", "Cancelled")))
                ).scalar_one()

        wait_for("every order to settle", unsettled, lambda n: n == 0, 1800)
        settled = time.monotonic()
        completions = _completion_seconds(database, merchant_id)
        database.dispose()
        total = sum(stats.statuses.values())
        rows = ", ".join(f"{kind} p50 {pct(v, 50):.0f}/p99 {pct(v, 99):.0f} ms" for kind, v in
                         sorted(stats.latencies.items()))
        return (f"{args.load_seconds:.0f} s, {readers} polling clients + creates at {rate:g}/s, {total} requests "
                f"({total / args.load_seconds:.0f}/s), 0 5xx, 0 dropped, {in_database} orders exactly; {rows}; "
                f"{len(completions)} Complete ({in_database - len(completions)} cancelled), "
                f"{len(completions) / (settled - started):.1f} orders/s through to Complete, created to Complete "
                f"p50 {pct(completions, 50):.1f}/p99 {pct(completions, 99):.1f} s; the last settled "
                f"{settled - load_ended:.0f} s after the load")


@scenario("load: mixed traffic on SQLite (serve with its workers)")
def load_sqlite(args) -> str:
    return _load_scenario(args, "sqlite")


@scenario("load: mixed traffic on PostgreSQL + Redis (2 API processes, 2 workers)")
def load_postgres(args) -> str:
    return _load_scenario(args, "postgresql")


# --- scale ---------------------------------------------------------------------------------

# The tables that make up an order as its reads see it. Its log (history, callback events and
# their attempts) is left out of the copies: reads never touch it.
ORDER_TABLES = ("orders", "order_items", "order_assets", "order_renditions", "shipments", "shipment_items",
                "charges", "charge_items")
WIRE_ID_PREFIXES = {"orders": "ord", "order_items": "ori", "order_assets": "ast", "shipments": "shp",
                    "charges": "chg", "charge_items": "chi"}


def _of_order(table: str, order_id: int, alias: str = "") -> str:
    """SQL naming the rows of `table` that belong to the order."""
    return {"orders": f"{alias}id = {order_id}",
            "shipment_items": f"{alias}shipment_id IN (SELECT id FROM shipments WHERE order_id = {order_id})",
            "charge_items": f"{alias}charge_id IN (SELECT id FROM charges WHERE order_id = {order_id})",
            }.get(table, f"{alias}order_id = {order_id}")


def _template_rows(connection, order_id: int) -> dict[str, list[dict]]:
    from sqlalchemy import text

    return {table: [dict(row._mapping) for row in connection.execute(
        text(f"SELECT * FROM {table} WHERE {_of_order(table, order_id)}"))] for table in ORDER_TABLES}


def seed_copies(database_url: str, order_id: int, copies: int) -> int:
    """`copies` copies of a Complete order, made by the database itself (INSERT … SELECT over a
    sequence), each with ids of its own everywhere: columns, keys, and the wire ids and thumbnail
    tokens inside its stored renditions. Returns the stride between one copy's ids and the next."""
    from sqlalchemy import create_engine, text

    from printwork.db import Base

    postgres = database_url.startswith("postgresql")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        template = _template_rows(connection, order_id)
        stride = 1 + max(connection.execute(text(f"SELECT max(id) FROM {t}")).scalar_one() or 0
                         for t in ORDER_TABLES if "id" in Base.metadata.tables[t].c)
    id_tables = {t for t in ORDER_TABLES if "id" in Base.metadata.tables[t].c}

    def shifted(value: str) -> str:
        return f"({value} + seq.k * {stride})"

    def as_text(expression: str) -> str:
        return f"convert_from({expression}, 'UTF8')" if postgres else f"CAST({expression} AS TEXT)"

    def as_bytes(expression: str) -> str:
        return f"convert_to({expression}, 'UTF8')" if postgres else f"CAST({expression} AS BLOB)"

    def body_expression() -> str:
        expression = as_text("t.body")
        for table, prefix in WIRE_ID_PREFIXES.items():
            for row in template[table]:
                old = f'"{prefix}_{row["id"]}"'
                expression = f"""replace({expression}, '{old}', '"{prefix}_' || {shifted(str(row["id"]))} || '"')"""
        for row in template["order_assets"]:
            if row["thumbnail_token"]:
                token = row["thumbnail_token"]
                expression = f"replace({expression}, '{token}', '{token}-' || seq.k)"
        return as_bytes(expression)

    statements = []
    for name in ORDER_TABLES:
        table = Base.metadata.tables[name]
        columns, values = [], []
        for column in table.c:
            columns.append(column.name)
            foreign = [fk.column.table.name for fk in column.foreign_keys]
            if (column.name == "id" and name in id_tables) or (foreign and foreign[0] in id_tables):
                values.append(shifted(f"t.{column.name}"))
            elif column.name == "thumbnail_token":
                values.append("t.thumbnail_token || '-' || seq.k")
            elif column.name == "body":
                values.append(body_expression())
            else:
                values.append(f"t.{column.name}")
        statements.append(f"INSERT INTO {name} ({', '.join(columns)}) SELECT {', '.join(values)} "
                          f"FROM {name} t, seq WHERE {_of_order(name, order_id, 't.')} "
                          "AND seq.k BETWEEN :low AND :high")
    chunk = 50_000
    with engine.begin() as connection:
        if postgres:
            # The copies' foreign keys point at rows copied in the same statement set; checking each
            # one would triple the time (a bulk load's usual shortcut; needs a superuser, as here).
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text("CREATE TEMP TABLE seq AS SELECT generate_series(1, :n) AS k"), {"n": copies})
        else:
            connection.execute(text("CREATE TEMP TABLE seq AS WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL "
                                    "SELECT k + 1 FROM s WHERE k < :n) SELECT k FROM s"), {"n": copies})
        connection.execute(text("CREATE INDEX seq_k ON seq (k)"))
        for low in range(1, copies + 1, chunk):
            for statement in statements:
                connection.execute(text(statement), {"low": low, "high": min(copies, low + chunk - 1)})
        if postgres:
            for name in id_tables:
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                        f"(SELECT max(id) FROM {name}))"))
    # What autovacuum (PostgreSQL) or an operator's ANALYZE would leave after a million orders.
    with engine.connect() as connection:
        if postgres:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("ANALYZE"))
        connection.commit()
    engine.dispose()
    return stride


def _scale_scenario(args, backend: str) -> str:
    if not shutil.which("wrk"):
        raise Skipped("wrk is needed to drive 32 connections faster than the server: apt-get install wrk")
    from bench.api_throughput import wrk

    copies = args.scale_orders
    with deployment(args, backend, PRINTWORK_SANDBOX_LAB_DELAY_SECONDS="0") as pw, photo_server() as photo:
        url = pw.serve(workers=True)
        key, _ = pw.key("Scale Shop")
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            template = client.post("/v4.0/orders", json=order_body(photo)).json()["order"]["id"]
            wait_for("the template order to complete", lambda: stages(url, key, [template]),
                     lambda c: c == {"Complete": 1}, 120)
            before = client.get(f"/v4.0/orders/{template}").json()["order"]
        pw.stop()
        started = time.monotonic()
        stride = seed_copies(pw.database_url, int(template.removeprefix("ord_")), copies)
        seeded = time.monotonic() - started
        url = pw.serve(workers=True)
        template_id = int(template.removeprefix("ord_"))
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            listed = client.get("/v4.0/orders", params={"top": 10}).json()
            check(listed["hasMore"] and len(listed["orders"]) == 10, f"the first page: {str(listed)[:300]}")
            newest = f"ord_{template_id + copies * stride}"
            check(listed["orders"][0]["id"] == newest, f"newest {listed['orders'][0]['id']}, expected {newest}")
            sample = client.get(f"/v4.0/orders/ord_{template_id + (copies // 2) * stride}").json()["order"]
            check(sample["status"]["stage"] == "Complete" and len(sample["shipments"]) == len(before["shipments"])
                  and sample["items"][0]["id"] != before["items"][0]["id"],
                  f"a copy does not read as a Complete order of its own: {str(sample)[:300]}")
        workdir = pw.data_dir
        get_script = workdir / "get-random.lua"
        get_script.write_text("\n".join([
            f'wrk.headers["X-API-Key"] = "{key}"',
            "request = function()",
            f'  return wrk.format("GET", "/v4.0/orders/ord_" .. ({template_id} + math.random(1, {copies}) * '
            f'{stride}))',
            "end"]) + "\n")
        list_script = workdir / "list-pages.lua"
        list_script.write_text("\n".join([
            f'wrk.headers["X-API-Key"] = "{key}"',
            "request = function()",
            '  return wrk.format("GET", "/v4.0/orders?top=10&skip=" .. (10 * math.random(0, 9)))',
            "end"]) + "\n")
        figures, p99s = [], []
        for name, script in (("get", get_script), ("list", list_script)):
            measured = wrk(url, args.scale_seconds, script)
            check(measured["non_2xx"] == 0 and not measured["socket_errors"],
                  f"{name}: {measured['non_2xx']} non-2xx, socket errors {measured['socket_errors']}")
            figures.append(f"{name} p50 {measured['p50']:.1f}/p99 {measured['p99']:.1f} ms "
                           f"({measured['rps']:.0f}/s)")
            p99s.append(measured["p99"])
        verdict = "met" if max(p99s) < 20 else "MISSED"
        return (f"{copies + 1} orders (seeded in {seeded:.0f} s, every copy Complete with its own ids), "
                f"32 connections: {', '.join(figures)}; target p99 < 20 ms {verdict}")


@scenario("scale: a million orders on SQLite")
def scale_sqlite(args) -> str:
    return _scale_scenario(args, "sqlite")


@scenario("scale: a million orders on PostgreSQL")
def scale_postgres(args) -> str:
    return _scale_scenario(args, "postgresql")


# --- the runner ----------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated words; runs the scenarios whose names contain one")
    parser.add_argument("--load-seconds", type=float,
                        default=float(os.environ.get("PRINTWORK_RELIABILITY_LOAD_SECONDS", 600)))
    parser.add_argument("--create-rate", type=float, default=2.0, help="new orders a second during the load")
    parser.add_argument("--scale-orders", type=int, default=1_000_000)
    parser.add_argument("--scale-seconds", type=int, default=10, help="wrk's time on each of get and list")
    parser.add_argument("--api-kills", type=int, default=100)
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--work-dir", default=None, help="where the scenarios' data directories go")
    args = parser.parse_args()
    wanted = [w.strip().lower() for w in args.only.split(",")] if args.only else None
    chosen = [(n, f) for n, f in SCENARIOS if wanted is None or any(w in n.lower() for w in wanted)]
    results: list[Result] = []
    began = time.monotonic()
    for name, function in chosen:
        started = time.monotonic()
        try:
            figure, ok = function(args), True
        except Skipped as skipped:
            figure, ok = f"skipped: {skipped}", True
        except Exception as exc:  # a failed scenario is reported; the others still run
            figure, ok = f"FAILED: {exc}", False
            traceback.print_exc()
        result = Result(name, ok, figure, time.monotonic() - started)
        results.append(result)
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({result.seconds:.0f} s): {figure}", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    out = HERE / "results" / f"reliability-{stamp}.md"
    lines = [f"# make reliability, {stamp} UTC ({time.monotonic() - began:.0f} s in all)", "",
             "| scenario | result | figure | seconds |", "|---|---|---|---|"]
    lines += [f"| {r.name} | {'ok' if r.ok else 'FAILED'} | {r.figure.replace('|', '/')} | {r.seconds:.0f} |"
              for r in results]
    out.write_text("\n".join(lines) + "\n")
    print(f"\n{len([r for r in results if r.ok])} of {len(results)} held; {time.monotonic() - began:.0f} s; "
          f"table in {out.relative_to(ROOT)}")
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
