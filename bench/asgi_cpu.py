"""CPU per request of the Printwork ASGI app itself, in-process: no server, no network, no load
generator, so the figure moves only with the app's own code (the machine's speed aside).

Run by hand:  .venv/bin/python bench/asgi_cpu.py [--requests 3000] [--repeats 5]

A fresh SQLite data folder with the demo catalogue; the app is called with a fake scope,
receive and send on uvloop; each figure is the best of `repeats` runs of `requests` calls,
in process CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import QUOTE  # noqa: E402
from tests.conftest import EXAMPLE_ORDER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()

    os.environ["PRINTWORK_DATA_DIR"] = tempfile.mkdtemp(prefix="printwork-asgi-cpu-")
    from printwork.api.app import create_app
    from printwork.bootstrap import prepare
    from printwork.config import get_settings
    from printwork.db import Database

    settings = get_settings()
    database = Database(settings.resolved_database_url)
    key = prepare(settings, database).demo_key.encode()
    app = create_app(settings, database)

    async def call(method: str, path: str, body: bytes = b"", query: bytes = b"") -> list[dict]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
                 "headers": [(b"host", b"127.0.0.1:8000"), (b"x-api-key", key),
                             (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 8000), "state": {}}
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    async def run() -> None:
        async with app.fastapi.router.lifespan_context(app.fastapi):
            order = json.dumps(EXAMPLE_ORDER).encode()
            order_id = json.loads((await call("POST", "/v4.0/orders", order))[1]["body"])["order"]["id"]
            for _ in range(10):
                await call("POST", "/v4.0/orders", order)
            cases = {
                "get": ("GET", f"/v4.0/orders/{order_id}", b"", b""),
                "list 10": ("GET", "/v4.0/orders", b"", b"top=10"),
                "quote": ("POST", "/v4.0/quotes", json.dumps(QUOTE).encode(), b""),
                "unknown path (404)": ("GET", "/v4.0/nothing", b"", b""),
            }
            print(f"| request | µs of CPU (best of {options.repeats} × {options.requests}) |")
            print("|---|---|")
            for name, (method, path, body, query) in cases.items():
                status = (await call(method, path, body, query))[0]["status"]
                assert status in (200, 404), (name, status)
                for _ in range(300):
                    await call(method, path, body, query)
                best = float("inf")
                for _ in range(options.repeats):
                    started = time.process_time()
                    for _ in range(options.requests):
                        await call(method, path, body, query)
                    best = min(best, (time.process_time() - started) / options.requests * 1e6)
                print(f"| {name} | {best:.1f} |")

    uvloop.run(run())


if __name__ == "__main__":
    main()
