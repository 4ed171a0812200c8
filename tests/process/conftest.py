"""Fixtures for the order process: images served on loopback, and a pipeline driven in-process."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pyvips
from sqlalchemy import select

from printwork.core.assets.download import DownloadLimits
from printwork.core.assets.storage import LocalStorage
from printwork.core.merchants.service import utcnow
from printwork.core.orders.repository import orders_t
from printwork.core.process.pipeline import ProcessRules, ProcessRuntime, drive_order


def make_images(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    # Landscape 3000x2400, left half red and right half blue, so crops and turns can be seen.
    left = pyvips.Image.black(1500, 2400, bands=3).new_from_image([220, 20, 20])
    right = pyvips.Image.black(1500, 2400, bands=3).new_from_image([20, 20, 220])
    landscape = left.join(right, "horizontal")
    files = {
        "photo.jpg": landscape.jpegsave_buffer(Q=90),
        "square.png": pyvips.Image.black(1000, 1000, bands=3).new_from_image([20, 200, 20]).pngsave_buffer(),
        "bomb.png": pyvips.Image.black(45_000, 1).pngsave_buffer(),  # tiny file, absurd size
        "notes.txt": b"this is not a picture",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


class ImageServer:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                server.hits[name] = server.hits.get(name, 0) + 1
                body = server.files.get(name)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def md5(self, name: str) -> str:
        return hashlib.md5(self.files[name]).hexdigest()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="session")
def image_server(tmp_path_factory) -> Iterator[ImageServer]:
    server = ImageServer(make_images(tmp_path_factory.mktemp("images")))
    yield server
    server.close()


@dataclass
class Pipeline:
    runtime: ProcessRuntime
    scheduled: list

    def run(self, order_id: int, rounds: int = 50) -> None:
        """Drive the order until nothing is due now (every wait in these rules is zero)."""
        for _ in range(rounds):
            drive_order(self.runtime, order_id)
            with self.runtime.database.read() as session:
                due = session.execute(select(orders_t.c.due_at).where(orders_t.c.id == order_id)).scalar_one()
            if due is None or due > utcnow():
                return
        raise AssertionError(f"order {order_id} still due after {rounds} drives")


def make_rules(**changes) -> ProcessRules:
    rules = dict(
        retry_delays_live=(0,) * 9, retry_delays_sandbox=(0,) * 9, sandbox_lab_delay=timedelta(0),
        retention=timedelta(days=30), lease=timedelta(seconds=60), public_base_url="https://printwork.test",
        download_limits=DownloadLimits(max_bytes=50_000_000, connect_timeout=2, read_timeout=5, deadline=20),
        allow_private_urls=True,
    )
    rules.update(changes)
    return ProcessRules(**rules)


@pytest.fixture
def pipeline_factory(test_db, settings):
    made = []

    def make(**rule_changes) -> Pipeline:
        scheduled: list = []
        runtime = ProcessRuntime(
            database=test_db.db, storage=LocalStorage(settings.files_dir), rules=make_rules(**rule_changes),
            notify_due=lambda order_id, at: scheduled.append((order_id, at)),
        )
        made.append(runtime)
        return Pipeline(runtime, scheduled)

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def pipeline(pipeline_factory) -> Pipeline:
    return pipeline_factory()
