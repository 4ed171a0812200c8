"""The API as users meet it: `printwork serve` with its workers, over orders that have moved.

Run by hand:  .venv/bin/python bench/served.py [--seconds 10] [--rounds 3]

`printwork serve` (the server and its worker child process, both pinned to CPU 0) on a fresh
embedded SQLite database, sandbox lab delay 0, assets from a loopback image server (a ~2 MB
3000x2400 JPEG, on CPU 1 with wrk). Each row is measured against a bare ASGI app on CPU 0
answering the same bytes, in alternating rounds (median). While the bare app is measured,
Printwork's server and workers are stopped (SIGSTOP), so the bare app has CPU 0 to itself and
the backlog does not move.

Rows, and the state each measures:
- get Complete: GET of a sandbox order that has run to Complete (shipments, charges, tracking).
- list 10 mixed: GET ?top=10 over settled orders of mixed fates (Complete, Cancelled, failed
  download, rejected by the lab).
- get / list 10 in backlog: the same while the workers work through a backlog of new orders (the
  listed and the got orders are moving); the output says how far the backlog moved.
- create + workers: POST of an order with a loopback asset while the workers process the orders
  being created.
- quote: a repeated 3-item basket, as in api_throughput.py.
The figures of orders that never move (no workers) are api_throughput.py's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import QUOTE, lua, start_server, wrk  # noqa: E402
from bench.serving import free_port, wait_until_up  # noqa: E402

BIN = Path(sys.executable).parent
TARGETS = {"get Complete": 0.20, "list 10 mixed": 0.10, "get in backlog": 0.20, "list 10 in backlog": 0.10,
           "create + workers": 0.06, "quote": 0.12}
P99_LIMIT_MS = 25.0
# Issue 10 sets the p99 bound for creates; the other rows show their p99 beside it, unjudged.
P99_JUDGED = {"create + workers"}


def order(url: str, reference: str) -> dict:
    return {
        "merchantReference": reference,
        "shippingMethod": "Budget",
        "recipient": {"name": "Ann Example", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                          "countryCode": "GB", "townOrCity": "London"}},
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 2, "sizing": "fillPrintArea",
                   "assets": [{"printArea": "default", "url": url}]}],
    }


def image_server() -> tuple[str, ThreadingHTTPServer]:
    import pyvips

    left = pyvips.Image.black(1500, 2400, bands=3).new_from_image([220, 20, 20])
    right = pyvips.Image.gaussnoise(1500, 2400, mean=128, sigma=40).bandjoin([
        pyvips.Image.gaussnoise(1500, 2400, mean=90, sigma=30), pyvips.Image.gaussnoise(1500, 2400, mean=60, sigma=20)])
    photo = left.join(right.cast("uchar"), "horizontal").jpegsave_buffer(Q=90)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.startswith("/photo"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}", httpd


class Served:
    """`printwork serve` and its worker child, which can be paused while the bare app runs."""

    def __init__(self, env: dict, port: int) -> None:
        command = [str(BIN / "printwork"), "serve", "--port", str(port)]
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        self.key = self.process.stdout.readline().strip()  # the demo key, printed on start

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.process.pid, *kids]

    def pause(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def fate(o: dict) -> str:
    if o["status"] is None:
        return "OnHold"
    details = o["status"]["details"]
    if o["status"]["stage"] == "InProgress" and details["downloadAssets"] == "Error":
        return "DownloadFailed"
    if o["status"]["stage"] == "InProgress" and details["inProduction"] == "Error":
        return "RejectedByLab"
    return o["status"]["stage"]


def stages(base: str, headers: dict, count: int) -> dict[str, int]:
    """Fate -> how many of the newest `count` orders have it."""
    seen: dict[str, int] = {}
    skip = 0
    while skip < count:
        page = httpx.get(f"{base}/v4.0/orders", params={"top": min(100, count - skip), "skip": skip}, headers=headers,
                         timeout=30).json()
        for o in page["orders"]:
            seen[fate(o)] = seen.get(fate(o), 0) + 1
        if not page["hasMore"]:
            break
        skip += 100
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settled", type=int, default=200, help="Orders run to their end before the first rows.")
    parser.add_argument("--backlog", type=int, default=400, help="Orders created at once for the backlog rows.")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # this script, its image server and wrk; Printwork gets CPU 0
    workdir = Path(tempfile.mkdtemp(prefix="printwork-served-"))
    images, httpd = image_server()
    port = free_port()
    env = dict(os.environ, PRINTWORK_DATA_DIR=str(workdir / "data"), PRINTWORK_ALLOW_PRIVATE_URLS="1",
               PRINTWORK_SANDBOX_LAB_DELAY_SECONDS="0", PRINTWORK_DOWNLOAD_RETRY_DELAYS_SANDBOX="[1,1,1,1,1,1,1,1,1]")
    served = Served(env, port)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict] = {}
    notes: list[str] = []
    bare = None
    try:
        wait_until_up(f"{base}/v4.0/orders")
        headers = {"X-API-Key": served.key, "Content-Type": "application/json"}
        client = httpx.Client(base_url=base, headers=headers, timeout=60)

        def create(body: dict) -> dict:
            response = client.post("/v4.0/orders", json=body)
            response.raise_for_status()
            return response.json()["order"]

        # 1. Settled orders of mixed fates, interleaved so that any ten of them mix.
        started = time.monotonic()
        complete_id = None
        for n in range(options.settled):
            kind = ("complete", "complete", "complete", "cancelled", "missing", "complete", "rejected")[n % 7]
            made = create(order(f"{images}/{'nothing' if kind == 'missing' else 'photo'}.jpg?n={n}", f"settled-{n}"))
            if kind == "cancelled":
                client.post(f"/v4.0/orders/{made['id']}/actions/cancel").raise_for_status()
            elif kind == "rejected":
                # 409 if the order is already past its lab submission: it then completes.
                client.post(f"/sandbox/v1/orders/{made['id']}/fail", json={"step": "labSubmission"})
            elif kind == "complete" and complete_id is None:
                complete_id = made["id"]
        while "InProgress" in (seen := stages(base, headers, options.settled)):
            time.sleep(1)
        notes.append(f"{options.settled} settled orders after {time.monotonic() - started:.0f}s: {seen}")
        got = client.get(f"/v4.0/orders/{complete_id}").json()["order"]
        assert got["status"]["stage"] == "Complete" and got["shipments"][0]["tracking"], got

        def measure(rows: dict[str, Path], payloads: dict[str, bytes]) -> None:
            nonlocal bare
            folder = workdir / f"payloads-{len(results)}"
            folder.mkdir()
            for name, body in payloads.items():
                (folder / f"{name}.json").write_bytes(body)
            bare_port = free_port()
            bare = start_server(["bench.bare_app:app", "--port", str(bare_port)], dict(env, BARE_PAYLOAD_DIR=str(folder)))
            bare_base = f"http://127.0.0.1:{bare_port}"
            wait_until_up(f"{bare_base}/")
            for name, script in rows.items():
                mine, theirs = [], []
                for _ in range(options.rounds):
                    served.pause()
                    try:
                        theirs.append(wrk(bare_base, options.seconds, script))
                    finally:
                        served.resume()
                    mine.append(wrk(base, options.seconds, script))
                median = lambda runs: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]  # noqa: E731
                results[name] = {"printwork": median(mine), "bare": median(theirs)}
            bare.terminate()
            bare.wait(timeout=30)
            bare = None

        key = served.key
        listed = client.get("/v4.0/orders?top=10").content
        measure(
            {"get Complete": lua("GET", f"/v4.0/orders/{complete_id}", key, None, workdir, "get-complete"),
             "list 10 mixed": lua("GET", "/v4.0/orders?top=10", key, None, workdir, "list-mixed")},
            {"get": client.get(f"/v4.0/orders/{complete_id}").content, "list": listed,
             "create": b"{}", "quote": b"{}"},
        )
        mixed = [fate(o) for o in json.loads(listed)["orders"]]
        notes.append(f"list 10 mixed listed stages {mixed}")

        # 2. A backlog: orders created at once, read while the workers work through it.
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            backlog = list(pool.map(lambda n: create(order(f"{images}/photo.jpg?b={n}", f"backlog-{n}")),
                                    range(options.backlog)))
        moving_id = backlog[len(backlog) // 2]["id"]
        before = stages(base, headers, options.backlog)
        measure(
            {"get in backlog": lua("GET", f"/v4.0/orders/{moving_id}", key, None, workdir, "get-backlog"),
             "list 10 in backlog": lua("GET", "/v4.0/orders?top=10", key, None, workdir, "list-backlog")},
            {"get": client.get(f"/v4.0/orders/{moving_id}").content,
             "list": client.get("/v4.0/orders?top=10").content, "create": b"{}", "quote": b"{}"},
        )
        after = stages(base, headers, options.backlog)
        notes.append(f"backlog of {options.backlog}: before the backlog rows {before}, after {after}")

        # 3. Creates while the workers process what is being created; 4. quotes.
        body = json.dumps(order(f"{images}/photo.jpg", "created")).encode()
        quote_body = json.dumps(QUOTE).encode()
        measure(
            {"create + workers": lua("POST", "/v4.0/orders", key, body, workdir, "create"),
             "quote": lua("POST", "/v4.0/quotes", key, quote_body, workdir, "quote")},
            {"create": client.post("/v4.0/orders", content=body).content,
             "quote": client.post("/v4.0/quotes", content=quote_body).content, "get": b"{}", "list": b"{}"},
        )
        client.close()
    finally:
        if bare is not None:
            bare.terminate()
        served.stop()
        httpd.shutdown()

    lines = [
        f"# The API as served, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`{' '.join(sys.argv)}` — `printwork serve` with its worker process, both on CPU 0, SQLite (WAL, "
        f"synchronous=FULL), sandbox lab delay 0; median of {options.rounds} alternating {options.seconds}s runs "
        f"per row against a bare ASGI app on CPU 0 (Printwork paused meanwhile); wrk 1 thread x 32 connections "
        f"and the image server on CPU 1; {os.cpu_count()} cores.",
        "",
        "| row | Printwork req/s | bare req/s | ratio | target | p50 ms | p99 ms | p99 < 25 ms (judged for create) | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, pair in results.items():
        mine, theirs = pair["printwork"], pair["bare"]
        ratio = mine["rps"] / theirs["rps"]
        ok = ratio >= TARGETS[name] and (name not in P99_JUDGED or mine["p99"] < P99_LIMIT_MS) and mine["non_2xx"] == 0
        verdicts.append(ok)
        lines.append(
            f"| {name} | {mine['rps']:.0f} | {theirs['rps']:.0f} | {ratio:.1%} | ≥ {TARGETS[name]:.0%} | "
            f"{mine['p50']:.2f} | {mine['p99']:.2f} | {('yes' if mine['p99'] < P99_LIMIT_MS else 'NO') if name in P99_JUDGED else ('(yes)' if mine['p99'] < P99_LIMIT_MS else '(no)')} | "
            f"{mine['non_2xx']} |")
    lines += ["", *[f"- {note}" for note in notes], "", "All targets met." if all(verdicts) else "Some targets NOT met."]
    report = "\n".join(lines) + "\n"
    print(report)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"served-{datetime.now(UTC):%Y%m%d-%H%M%S}.md").write_text(report)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
