"""A real `printwork serve` on loopback (embedded SQLite, its worker child, lab delay 0)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    base_url: str
    key: str


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    data = Path(tempfile.mkdtemp(prefix="printwork-client-tests-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTWORK_")}
    # Callbacks go to a receiver on loopback, which the private-address guard would refuse.
    env.update(PRINTWORK_DATA_DIR=str(data), PRINTWORK_SANDBOX_LAB_DELAY_SECONDS="0",
               PRINTWORK_ALLOW_PRIVATE_URLS="1", PRINTWORK_CALLBACK_RETRY_DELAYS_SANDBOX="[1,1,1,1,1,1,1,1,1,1,1,1,1,1]")
    server = subprocess.Popen([sys.executable, "-m", "printwork", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        key = server.stdout.readline().strip()  # the demo merchant's sandbox key, printed on start
        assert key.startswith("pw_sandbox_"), key
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/v4.0/orders", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, "printwork serve exited"
                assert time.monotonic() < deadline, "printwork serve did not start"
                time.sleep(0.1)
        yield Served(base_url, key)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def new_order(served: Served):
    """A v4 order body (as a dict) of one of the sample pictures Printwork serves itself."""
    return lambda reference="client-test", picture="landscape.jpg": _order(served, reference, picture)


def _order(served: Served, reference: str, picture: str) -> dict:
    return {
        "merchantReference": reference,
        "shippingMethod": "Budget",
        "recipient": {"name": "Ann Example", "email": "ann@example.com",
                      "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD", "countryCode": "GB",
                                  "townOrCity": "London"}},
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 2, "sizing": "fillPrintArea",
                   "assets": [{"printArea": "default", "url": f"{served.base_url}/sandbox/v1/samples/{picture}"}]}],
    }
