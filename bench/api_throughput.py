"""Create, get and list throughput and latency of Printwork against a bare ASGI app, same run.

Run by hand:  make bench   (or .venv/bin/python bench/api_throughput.py [--seconds 10])

Both servers are uvicorn with one worker, uvloop and httptools, pinned to CPU 0; wrk (one
thread, 32 connections) runs on CPU 1. Printwork uses a fresh embedded SQLite database (WAL,
synchronous=FULL) unless --database-url names another. Results go to stdout and to
bench/results/api_throughput-<date>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port, wait_until_up  # noqa: E402
from tests.conftest import EXAMPLE_ORDER  # noqa: E402

TARGETS = {"create": 0.06, "get": 0.20, "list": 0.10, "quote": 0.12, "quote-varied": 0.12,
           "v3 create": 0.06, "v3 get": 0.20}
# A Pwinty v3.0 order as an old shop creates it (a draft; its images follow in other requests).
V3_ORDER = {"merchantOrderId": "bench", "recipientName": "Ann Smith", "address1": "1 High St",
            "addressTownOrCity": "London", "postalOrZipCode": "W1A 1AA", "countryCode": "GB",
            "preferredShippingMethod": "Standard"}
QUOTE = {
    "destinationCountryCode": "FR",
    "items": [
        {"sku": "GLOBAL-CAN-10X10", "copies": 2, "attributes": {"wrap": "ImageWrap"}, "assets": [{"printArea": "default"}]},
        {"sku": "GLOBAL-TECH-IP11P-FC-CP", "copies": 1, "attributes": {}, "assets": [{"printArea": "default"}]},
        {"sku": "GLOBAL-PHO-4X6", "copies": 24, "assets": [{"printArea": "default"}]},
    ],
}
P99_LIMIT_MS = 25.0




def start_server(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    command = ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1",
               "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    if not shutil.which("taskset"):
        command = command[3:]
    return subprocess.Popen(command, env=env, cwd=ROOT)




def wrk(url: str, seconds: int, script: Path, connections: int = 32) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rate, "p50": percentile("50"), "p99": percentile("99"),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors.group(1) if errors else "",
            "raw": out}


def analyze(database_url: str) -> None:
    from sqlalchemy import text

    from printwork.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    engine.dispose()


def lua(method: str, path: str, key: str, body: bytes | None, workdir: Path, name: str,
        merchant_id: str | None = None) -> Path:
    """A wrk script; with `merchant_id`, authenticated as Pwinty v3.0 clients are."""
    script = workdir / f"{name.replace(' ', '-')}.lua"
    lines = [f'wrk.method = "{method}"', f'wrk.path = "{path}"', 'wrk.headers["Content-Type"] = "application/json"']
    if merchant_id is None:
        lines.append(f'wrk.headers["X-API-Key"] = "{key}"')
    else:
        lines += [f'wrk.headers["X-Pwinty-MerchantId"] = "{merchant_id}"', f'wrk.headers["X-Pwinty-REST-API-Key"] = "{key}"']
    if body is not None:
        lines.append(f"wrk.body = [==[{body.decode()}]==]")
    script.write_text("\n".join(lines) + "\n")
    return script


def varied_quote_lua(key: str, workdir: Path) -> Path:
    """The same 3-item basket with random copies (1-60 each), so almost every quote is new."""
    template = json.dumps(QUOTE).replace('"copies": 2', '"copies": %d').replace('"copies": 1', '"copies": %d').replace(
        '"copies": 24', '"copies": %d')
    script = workdir / "quote-varied.lua"
    script.write_text(
        "\n".join([
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f'wrk.headers["X-API-Key"] = "{key}"',
            f"local template = [==[{template}]==]",
            "request = function()",
            '  local body = string.format(template, math.random(1, 60), math.random(1, 60), math.random(1, 60))',
            '  return wrk.format("POST", "/v4.0/quotes", nil, body)',
            "end",
        ]) + "\n"
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="Alternating runs per endpoint; the median is reported.")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append", help="Run only these endpoints.")
    parser.add_argument("--database-url", default=None, help="Benchmark against this database instead of fresh SQLite.")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="printwork-bench-"))
    env = dict(os.environ, PRINTWORK_DATA_DIR=str(workdir / "data"), PRINTWORK_API_KEY_CACHE_SECONDS="2")
    if options.database_url:
        env["PRINTWORK_DATABASE_URL"] = options.database_url
    # Migrate, load the demo catalogue and make the demo merchant, as `printwork serve` does.
    prepare = subprocess.run(
        [sys.executable, "-c", "from printwork.config import get_settings; from printwork.db import Database;"
         "from printwork.bootstrap import prepare; from printwork.core.merchants.service import owner_for_key;"
         "s=get_settings(); d=Database(s.resolved_database_url); k=prepare(s, d).demo_key; print(k);"
         "session=d.read().__enter__(); print(owner_for_key(session, k).merchant_id)"],
        env=env, capture_output=True, text=True, check=True)
    key, merchant_id = prepare.stdout.strip().splitlines()[-2:]
    body = json.dumps(EXAMPLE_ORDER).encode()

    printwork_port = free_port()
    printwork = start_server(["--factory", "printwork.api.app:create_app", "--port", str(printwork_port)], env)
    base = f"http://127.0.0.1:{printwork_port}"
    servers = [printwork]
    samples: dict[str, dict[str, list[dict]]] = {"printwork": {}, "bare": {}}
    try:
        wait_until_up(f"{base}/v4.0/orders")
        headers = {"X-API-Key": key}
        created = httpx.post(f"{base}/v4.0/orders", content=body, headers={**headers, "Content-Type": "application/json"})
        created.raise_for_status()
        order_id = created.json()["order"]["id"]
        for _ in range(20):
            httpx.post(f"{base}/v4.0/orders", content=body, headers={**headers, "Content-Type": "application/json"})
        payloads = workdir / "payloads"
        payloads.mkdir()
        (payloads / "create.json").write_bytes(created.content)
        (payloads / "get.json").write_bytes(httpx.get(f"{base}/v4.0/orders/{order_id}", headers=headers).content)
        (payloads / "list.json").write_bytes(httpx.get(f"{base}/v4.0/orders?top=10", headers=headers).content)
        quote_body = json.dumps(QUOTE).encode()
        quoted = httpx.post(f"{base}/v4.0/quotes", content=quote_body, headers={**headers, "Content-Type": "application/json"})
        quoted.raise_for_status()
        (payloads / "quote.json").write_bytes(quoted.content)
        v3_headers = {"X-Pwinty-MerchantId": merchant_id, "X-Pwinty-REST-API-Key": key, "Content-Type": "application/json"}
        v3_body = json.dumps(V3_ORDER).encode()
        v3_created = httpx.post(f"{base}/v3.0/orders", content=v3_body, headers=v3_headers)
        v3_created.raise_for_status()
        v3_id = v3_created.json()["data"]["id"]
        (payloads / "v3-create.json").write_bytes(v3_created.content)
        (payloads / "v3-get.json").write_bytes(httpx.get(f"{base}/v3.0/orders/{v3_id}", headers=v3_headers).content)
        scripts = {
            "create": lua("POST", "/v4.0/orders", key, body, workdir, "create"),
            "get": lua("GET", f"/v4.0/orders/{order_id}", key, None, workdir, "get"),
            "list": lua("GET", "/v4.0/orders?top=10", key, None, workdir, "list"),
            "quote": lua("POST", "/v4.0/quotes", key, quote_body, workdir, "quote"),
            "quote-varied": varied_quote_lua(key, workdir),
            "v3 create": lua("POST", "/v3.0/orders", key, v3_body, workdir, "v3 create", merchant_id),
            "v3 get": lua("GET", f"/v3.0/orders/{v3_id}", key, None, workdir, "v3 get", merchant_id),
        }
        bare_port = free_port()
        servers.append(start_server(["bench.bare_app:app", "--port", str(bare_port)], dict(env, BARE_PAYLOAD_DIR=str(payloads))))
        bare_base = f"http://127.0.0.1:{bare_port}"
        wait_until_up(f"{bare_base}/")
        # Alternate the two servers so that a noisy neighbour on the machine hits both alike;
        # each figure is the median of the rounds.
        for name, script in scripts.items():
            if options.only and name not in options.only:
                continue
            for _ in range(options.rounds):
                samples["bare"].setdefault(name, []).append(wrk(bare_base, options.seconds, script))
                samples["printwork"].setdefault(name, []).append(wrk(base, options.seconds, script))
            if name == "create" and options.database_url:
                # What autovacuum would do within a minute: planner statistics for the tables the
                # creates just filled (stale ones can make PostgreSQL scan a merchant's orders).
                analyze(options.database_url)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)

    def median_run(runs: list[dict]) -> dict:
        return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]

    results = {side: {name: median_run(runs) for name, runs in per.items()} for side, per in samples.items()}

    database = options.database_url.split("://", 1)[0] if options.database_url else "sqlite (WAL, synchronous=FULL)"
    lines = [
        f"# API throughput, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`{' '.join(sys.argv)}` — median of {options.rounds} alternating {options.seconds}s runs per endpoint, "
        f"wrk 1 thread x 32 connections on CPU 1, each server uvicorn 1 worker on CPU 0, "
        f"database: {database}, {os.cpu_count()} cores.",
        "",
        "| endpoint | Printwork req/s | bare req/s | ratio | target | p50 ms | p99 ms | p99 < 25 ms | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name in results["printwork"]:
        mine, theirs = results["printwork"][name], results["bare"][name]
        ratio = mine["rps"] / theirs["rps"]
        ok = ratio >= TARGETS[name] and mine["p99"] < P99_LIMIT_MS and mine["non_2xx"] == 0
        verdicts.append(ok)
        lines.append(
            f"| {name} | {mine['rps']:.0f} | {theirs['rps']:.0f} | {ratio:.1%} | ≥ {TARGETS[name]:.0%} | "
            f"{mine['p50']:.2f} | {mine['p99']:.2f} | {'yes' if mine['p99'] < P99_LIMIT_MS else 'NO'} | {mine['non_2xx']} |"
        )
    lines += ["", "All targets met." if all(verdicts) else "Some targets NOT met."]
    report = "\n".join(lines) + "\n"
    print(report)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"api_throughput-{datetime.now(UTC):%Y%m%d-%H%M%S}.md").write_text(report)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
