"""Real Printwork servers in subprocesses on loopback, for tests that need real concurrency."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


REDIS_URL = os.environ.get("PRINTWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 60) -> str:
    """Until `url` answers at all (any status); fails at once if `process` has exited. Returns the body."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=1).text
        except httpx.TransportError:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, f"{url} did not answer within {seconds:.0f}s"
            time.sleep(0.1)


def metric(exposition: str, sample: str) -> float:
    """The value of one sample line (name and labels, as Prometheus writes them) of a /metrics answer."""
    for line in exposition.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} is not in /metrics:\n{exposition}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_servers(database_url: str, data_dir: Path, count: int = 1, **env_overrides: str):
    """`count` independent server processes sharing one database; yields their base URLs."""
    env = dict(os.environ)
    env.update(
        PRINTWORK_DATABASE_URL=database_url,
        PRINTWORK_DATA_DIR=str(data_dir),
        PRINTWORK_SEED_DEMO="0",
        PRINTWORK_API_KEY_CACHE_SECONDS="0",
        **env_overrides,
    )
    processes, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--factory", "printwork.api.app:create_app",
                     "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    env=env,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    httpx.get(f"{url}/v4.0/orders", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"server at {url} did not start") from None
                    time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


class LoopbackS3:
    """moto's standalone S3 server on loopback (in this process), with a fresh bucket per use."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._buckets = 0

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id="printwork-test", aws_secret_access_key="printwork-test-secret")

    def new_bucket(self) -> str:
        self._buckets += 1
        name = f"printwork-test-{self._buckets}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def env(self, bucket: str, prefix: str = "printwork") -> dict[str, str]:
        """The settings a Printwork process needs to keep its files in `bucket`."""
        return {
            "PRINTWORK_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "PRINTWORK_S3_ENDPOINT_URL": self.endpoint_url,
            "PRINTWORK_S3_REGION": "us-east-1",
            "PRINTWORK_S3_ACCESS_KEY_ID": "printwork-test",
            "PRINTWORK_S3_SECRET_ACCESS_KEY": "printwork-test-secret",
        }

    def stop(self) -> None:
        self._server.stop()
