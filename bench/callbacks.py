"""Callbacks delivered per second to a loopback receiver by one worker process.

Run by hand:  .venv/bin/python bench/callbacks.py [--events 5000] [--orders 50] [--threads 4]

A fresh SQLite data folder; `printwork serve --no-workers` places `--orders` sandbox orders with a
callbackUrl pointing at a loopback receiver (uvicorn, answers 204); `--events` callback events, each
carrying one of those orders as the v4 API renders it (~2 KB), are written to the outbox and
enqueued in batches of 200, as the pipeline's commits do, to an idle `printwork worker` that is
already running; the clock runs from the outbox write until every event is Delivered. Each delivery is a signed POST and one recorded
attempt; the figure includes the outbox writes of their outcomes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.serving import cpu_seconds, free_port, wait_until_up  # noqa: E402
from printwork.config import Settings  # noqa: E402
from printwork.core.callbacks.events import events_t  # noqa: E402
from printwork.core.merchants.service import utcnow  # noqa: E402
from printwork.db import Database  # noqa: E402
from printwork.jobs import JobQueue  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        api_port, receiver_port = free_port(), free_port()
        env = {**os.environ, "PRINTWORK_DATA_DIR": str(data), "PRINTWORK_PORT": str(api_port),
               "PRINTWORK_ALLOW_PRIVATE_URLS": "1"}
        receiver = subprocess.Popen(
            [str(BIN / "python"), "-m", "uvicorn", "bench.receiver:app", "--port", str(receiver_port),
             "--log-level", "warning", "--loop", "uvloop", "--http", "httptools", "--no-access-log"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = subprocess.Popen([str(BIN / "printwork"), "serve", "--no-workers"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        worker = None
        try:
            key = server.stdout.readline().strip()
            base = f"http://127.0.0.1:{api_port}"
            wait_until_up(f"{base}/v4.0/orders")
            wait_until_up(f"http://127.0.0.1:{receiver_port}/")
            callback_url = f"http://127.0.0.1:{receiver_port}/hooks"
            orders = []
            with httpx.Client(headers={"X-API-Key": key}, timeout=30) as client:
                for _ in range(args.orders):
                    body = {"shippingMethod": "Budget", "callbackUrl": callback_url,
                            "recipient": {"name": "Bench", "address": {"line1": "1 High St", "postalOrZipCode": "AB1",
                                                                        "countryCode": "GB", "townOrCity": "Town"}},
                            "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 1, "assets": [
                                {"printArea": "default", "url": "https://example.com/photo.jpg"}]}]}
                    orders.append(client.post(f"{base}/v4.0/orders", json=body).json()["order"])
            settings = Settings(data_dir=data)
            database = Database(settings.resolved_database_url)
            # The orders' own pipeline events (failed downloads of example.com) would add to the count.
            with database.transaction() as session:
                session.execute(text("UPDATE orders SET due_at = NULL"))
            flush = JobQueue(settings, database, None)
            flush.huey.flush()  # their pipeline jobs too: only callbacks are measured
            flush.close()
            now = utcnow()
            rows = []
            for n in range(args.events):
                order = orders[n % len(orders)]
                public_id = f"evt_{secrets.token_hex(12)}"
                rows.append({
                    "public_id": public_id, "order_id": int(order["id"][4:]),
                    "event_type": "com.prodigi.order.status.stage.changed#InProgress", "occurred_at": now,
                    "url": callback_url, "status": "Pending", "attempts": 0, "next_attempt_at": now,
                    "body": orjson.dumps({"specversion": "1.0", "type": "com.prodigi.order.status.stage.changed#InProgress",
                                          "source": f"{base}/v4.0/Orders/", "id": public_id,
                                          "time": now.isoformat() + "Z", "datacontenttype": "application/json",
                                          "subject": order["id"], "data": {"order": order}}),
                })
            engine = create_engine(settings.resolved_database_url)
            # BENCH_WORKER_WRAPPER="py-spy record -f raw -o /tmp/worker.txt --" profiles the worker.
            wrapper = os.environ.get("BENCH_WORKER_WRAPPER", "").split()
            worker = subprocess.Popen([*wrapper, str(BIN / "printwork"), "worker", "--threads", str(args.threads)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(5)  # the worker is up and idle; its start-up is not what is measured
            started = time.monotonic()
            with database.transaction() as session:
                ids = list(session.execute(insert(events_t).returning(events_t.c.id), rows).scalars())
            jobs = JobQueue(settings, database, None)
            for start in range(0, len(ids), 200):
                jobs.events_due(ids[start:start + 200])
            jobs.close()
            body_size = sum(len(r["body"]) for r in rows) / len(rows)

            cpu_before = cpu_seconds(worker.pid)
            while True:
                with engine.connect() as conn:
                    done = conn.execute(text("SELECT count(*) FROM order_events WHERE status = 'Delivered'")).scalar()
                if done >= args.events:
                    break
                if time.monotonic() - started > 600:
                    raise SystemExit(f"only {done} of {args.events} delivered after 600 s")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(worker.pid) - cpu_before
            print(f"{args.events} callbacks (~{body_size / 1024:.1f} KB each) for {args.orders} orders delivered in "
                  f"{elapsed:.1f} s = {args.events / elapsed:.0f} per second by one worker ({args.threads} job threads); "
                  f"worker CPU {cpu:.1f} s = {cpu / args.events * 1000:.2f} ms per callback")
        finally:
            for process in (worker, server, receiver):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()


if __name__ == "__main__":
    main()
