"""Orders per second from create to Complete in the sandbox, with one worker process.

Run by hand:  .venv/bin/python bench/pipeline.py [--orders 200] [--threads 4]

A fresh data folder and SQLite database; an API server without workers (`printwork serve
--no-workers`); one `printwork worker`; a loopback file server with a 3000x2400 JPEG (photographic
noise, ~2 MB). The sandbox lab delay is 0. All orders are placed first (the queue fills), then the
clock runs from the worker's start until every order is Complete, so the figure is the worker's
throughput, not the API's. A second phase prepares a few 16x24in fine-art prints (4800x7200, more
than the 4800x6000 target) from a 4800x6000 JPEG and reports the worker's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pyvips
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.serving import cpu_seconds, free_port  # noqa: E402


def make_jpeg(path: Path, width: int, height: int) -> None:
    noise = [pyvips.Image.gaussnoise(width, height, mean=m, sigma=s) for m, s in ((128, 40), (100, 30), (90, 50))]
    image = noise[0].bandjoin(noise[1:]).cast("uchar").gaussblur(1.2).copy(interpretation="srgb")
    image.write_to_file(str(path), Q=90)


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bare_cpu_ms(source: Path, target: Path, width: int, height: int, runs: int = 15) -> float:
    """CPU of a bare pyvips crop-resize-save of the same image to the same print, in this process
    (libvips' operation cache off, as in the worker: else repeats are answered from the cache)."""
    pyvips.cache_set_max(0)
    def once():
        image = pyvips.Image.new_from_file(str(source))
        if (image.width > image.height) != (width > height):
            image = image.rot90()
        scale = max(width / image.width, height / image.height)
        crop_w, crop_h = round(width / scale), round(height / scale)
        image = image.crop((image.width - crop_w) // 2, (image.height - crop_h) // 2, crop_w, crop_h)
        image = image.resize(width / crop_w, vscale=height / crop_h, kernel="lanczos3")
        image.jpegsave(str(target), Q=92)
    once()
    start = time.process_time()
    for _ in range(runs):
        once()
    return (time.process_time() - start) / runs * 1000


def order_body(url: str, sku: str, attributes: dict | None = None) -> dict:
    item = {"sku": sku, "copies": 1, "assets": [{"printArea": "default", "url": url}]}
    if attributes:
        item["attributes"] = attributes
    return {
        "shippingMethod": "Budget",
        "recipient": {"name": "Bench", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                    "countryCode": "GB", "townOrCity": "Town"}},
        "items": [item],
    }


def wait_complete(engine, count: int, timeout: float) -> float:
    started = time.monotonic()
    while True:
        with engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM orders WHERE stage = 'Complete'")).scalar()
            errors = conn.execute(text("SELECT count(*) FROM order_assets WHERE status = 'Error'")).scalar()
        if errors:
            raise SystemExit(f"{errors} asset(s) failed; see the worker's log")
        if done >= count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"only {done} of {count} orders complete after {timeout}s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--large", type=int, default=3, help="large prints for the memory phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = tmp / "files-served"
        files.mkdir()
        make_jpeg(files / "photo.jpg", 3000, 2400)
        make_jpeg(files / "large.jpg", 4800, 6000)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(files)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        files_url = f"http://127.0.0.1:{httpd.server_address[1]}"

        data = tmp / "data"
        port = free_port()
        env = {**os.environ, "PRINTWORK_DATA_DIR": str(data), "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0",
               "PRINTWORK_ALLOW_PRIVATE_URLS": "1", "PRINTWORK_PORT": str(port)}
        server = subprocess.Popen([str(BIN / "printwork"), "serve", "--no-workers"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        worker = None
        try:
            key = server.stdout.readline().strip()  # the demo sandbox key is the only stdout line
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/v4.0/orders", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            engine = create_engine(f"sqlite:///{data / 'printwork.db'}")
            with httpx.Client(headers={"X-API-Key": key}, timeout=30) as client:
                for _ in range(args.orders):
                    response = client.post(f"{base}/v4.0/orders", json=order_body(f"{files_url}/photo.jpg", "GLOBAL-PHO-4X6"))
                    response.raise_for_status()
                # BENCH_WORKER_WRAPPER="py-spy record -f raw -o /tmp/worker.txt --" profiles the worker.
                wrapper = os.environ.get("BENCH_WORKER_WRAPPER", "").split()
                worker = subprocess.Popen([*wrapper, str(BIN / "printwork"), "worker", "--threads", str(args.threads)],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                elapsed = wait_complete(engine, args.orders, timeout=600)
                photo_rss = peak_rss_mb(worker.pid)
                cpu = cpu_seconds(worker.pid)
                rate = args.orders / elapsed
                print(f"6x4in prints from a 3000x2400 JPEG: {args.orders} orders complete in {elapsed:.1f} s "
                      f"= {rate:.1f} orders/s with one worker ({args.threads} threads); worker peak RSS {photo_rss:.0f} MB; "
                      f"worker CPU {cpu:.1f} s = {cpu / args.orders * 1000:.0f} ms per order")
                bare = bare_cpu_ms(files / "photo.jpg", tmp / "bare.jpg", 1200, 1800)
                print(f"bare pyvips crop-resize-save of the same print: {bare:.0f} ms CPU; the pipeline's whole cost per "
                      f"order (download, checks, print file, thumbnail, database, sandbox lab) is "
                      f"{cpu / args.orders * 1000 / bare - 1:+.0%} over it")

                # Memory: a fresh worker preparing only large prints.
                worker.send_signal(signal.SIGINT)
                worker.wait(timeout=60)
                for _ in range(args.large):
                    client.post(f"{base}/v4.0/orders", json=order_body(f"{files_url}/large.jpg", "GLOBAL-FAP-16X24")
                                ).raise_for_status()
                worker = subprocess.Popen([str(BIN / "printwork"), "worker", "--threads", str(args.threads)], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_complete(engine, args.orders + args.large, timeout=600)
                print(f"16x24in prints (4800x7200) from a 4800x6000 JPEG, {args.large} orders: worker peak RSS "
                      f"{peak_rss_mb(worker.pid):.0f} MB")
        finally:
            for process in (worker, server):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)
            httpd.shutdown()


if __name__ == "__main__":
    main()
