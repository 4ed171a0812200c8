"""Downloading assets from a real HTTP server on loopback: limits, redirects and the guard."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from printwork.core.assets.download import DownloadFailed, DownloadLimits, download, guarded_client

CONTENT = b"\xff\xd8\xff" + bytes(range(256)) * 400


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        port = self.server.server_address[1]
        routes = {
            "/good.jpg": lambda: self._send(200, CONTENT),
            "/missing": lambda: self._send(404, b"no"),
            "/broken": lambda: self._send(500, b"oops"),
            "/declared-huge": lambda: self._send(200, b"", [("Content-Length", str(10**10))]),
            "/redirect": lambda: self._send(302, headers=[("Location", "/good.jpg"), ("Content-Length", "0")]),
            "/loop": lambda: self._send(302, headers=[("Location", "/loop"), ("Content-Length", "0")]),
            "/to-ftp": lambda: self._send(302, headers=[("Location", "ftp://127.0.0.1/x"), ("Content-Length", "0")]),
            "/to-other-host": lambda: self._send(
                302, headers=[("Location", f"http://127.0.0.2:{port}/good.jpg"), ("Content-Length", "0")]),
        }
        if self.path == "/undeclared-huge":
            self.send_response(200)
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b"x" * 10_000)
            return
        if self.path == "/slow":
            time.sleep(1.5)
            return self._send(200, CONTENT)
        if self.path == "/trickle":  # a byte at a time, never enough to fill a buffer
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x" * 1000)
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return
        routes.get(self.path, lambda: self._send(404))()


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


LIMITS = DownloadLimits(max_bytes=1_000_000, connect_timeout=2, read_timeout=0.5, deadline=2)


def fetch(url, tmp_path, limits=LIMITS, **guard):
    target = tmp_path / "asset"
    with guarded_client(limits, **guard) as client:
        return download(url, target, client, limits)


def test_a_good_download_is_whole_with_its_md5(server, tmp_path):
    result = fetch(f"{server}/good.jpg", tmp_path, allow_private=True)
    assert result.path.read_bytes() == CONTENT and result.size == len(CONTENT)
    assert result.md5 == hashlib.md5(CONTENT).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["asset"]


def test_redirects_are_followed(server, tmp_path):
    assert fetch(f"{server}/redirect", tmp_path, allow_private=True).size == len(CONTENT)


@pytest.mark.parametrize("path, reason", [
    ("/missing", "HTTP 404"),
    ("/broken", "HTTP 500"),
    ("/declared-huge", "more than 1000000 allowed"),
    ("/undeclared-huge", "larger than 1000000 bytes"),
    ("/slow", "did not answer in time"),
    ("/drip", "longer than 2 seconds"),
    ("/loop", "more than 5 redirects"),
    ("/to-ftp", "only http and https"),
])
def test_failures_say_why_and_leave_nothing_behind(server, tmp_path, path, reason):
    with pytest.raises(DownloadFailed, match=reason):
        fetch(f"{server}{path}", tmp_path, allow_private=True)
    assert list(tmp_path.iterdir()) == []


def test_a_trickling_server_is_cut_off_at_the_deadline(server, tmp_path):
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="longer than 2 seconds"):
        fetch(f"{server}/trickle", tmp_path, allow_private=True)
    assert time.monotonic() - started < 3.5
    assert list(tmp_path.iterdir()) == []


def test_private_addresses_are_refused_at_connect(server, tmp_path):
    with pytest.raises(DownloadFailed, match="non-public address"):
        fetch(f"{server}/good.jpg", tmp_path)


def test_localhost_by_name_is_refused(server, tmp_path):
    port = server.rsplit(":", 1)[1]
    with pytest.raises(DownloadFailed, match="non-public address"):
        fetch(f"http://localhost:{port}/good.jpg", tmp_path)


def test_a_redirect_to_a_forbidden_address_is_refused(server, tmp_path):
    only_first = lambda address: str(address) == "127.0.0.1"  # noqa: E731 - stands in for "public"
    assert fetch(f"{server}/good.jpg", tmp_path, permitted=only_first).size == len(CONTENT)
    with pytest.raises(DownloadFailed, match="127.0.0.2"):
        fetch(f"{server}/to-other-host", tmp_path, permitted=only_first)


def test_a_name_is_connected_to_at_the_address_that_was_checked(server, tmp_path):
    port = int(server.rsplit(":", 1)[1])
    seen = []

    def resolve(host, resolve_port):
        seen.append(host)
        return ["127.0.0.1"]

    result = fetch(f"http://assets.example:{port}/good.jpg", tmp_path, allow_private=True, resolve=resolve)
    assert result.size == len(CONTENT) and seen == ["assets.example"]
