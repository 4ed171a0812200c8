"""Fetching a merchant's asset: streamed, capped, timed out, and only from public addresses.

The address check happens where the connection is made (a guarded network backend), so a
host name cannot resolve to a public address for the check and a private one for the
connection, and every redirect hop is checked again. Redirects are followed by hand, at most
MAX_REDIRECTS, and only to http(s).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpcore
import httpx

from printwork.core.assets.addresses import (
    IPAddress,
    RefusedAddress,
    Resolver,
    check_host,
    check_url_form,
    is_public,
    system_resolver,
)

MAX_REDIRECTS = 5


class DownloadFailed(Exception):
    """One failed attempt; `reason` is written into the asset's issue."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int = 200 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 300.0  # seconds for the whole download, redirects included


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    md5: str


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the fetch guard allows, resolving the name itself."""

    def __init__(self, allow_private: bool, resolve: Resolver, permitted: Callable[[IPAddress], bool]) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._permitted = permitted

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = check_host(host, port, allow_private=self._allow_private, resolve=self._resolve,
                                   permitted=self._permitted)
        except RefusedAddress as refused:
            raise httpcore.ConnectError(f"refused: {refused}") from refused
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"could not connect to {host}")


def guarded_client(
    limits: DownloadLimits, *, allow_private: bool = False, resolve: Resolver = system_resolver,
    permitted: Callable[[IPAddress], bool] = is_public, max_connections: int = 4,
) -> httpx.Client:
    transport = httpx.HTTPTransport(retries=0)
    # httpx does not take a network backend; its pool does. Same pool, guarded connections.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=transport._pool._ssl_context,
        max_connections=max_connections,
        network_backend=GuardedBackend(allow_private, resolve, permitted),
    )
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False,
                        headers={"User-Agent": "Printwork asset fetcher"})


def download(url: str, target: Path, client: httpx.Client, limits: DownloadLimits) -> Downloaded:
    """Fetch `url` into `target` (written whole or not at all); raises DownloadFailed."""
    started = time.monotonic()
    partial = target.with_name(target.name + ".part")
    try:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                check_url_form(url)  # scheme, host, credentials; addresses are checked at connect
            except RefusedAddress as refused:
                raise DownloadFailed(str(refused)) from None
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise DownloadFailed(f"HTTP {response.status_code} redirect without a Location")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise DownloadFailed(f"HTTP {response.status_code} from the asset URL")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limits.max_bytes:
                        raise DownloadFailed(f"the file is {int(declared)} bytes, more than {limits.max_bytes} allowed")
                    return _save(response, partial, target, started, limits)
            except httpx.TimeoutException:
                raise DownloadFailed("the asset server did not answer in time") from None
            except httpx.HTTPError as exc:
                cause = exc.__cause__ or exc.__context__
                reason = str(cause) if isinstance(cause, (RefusedAddress, httpcore.ConnectError)) else str(exc)
                raise DownloadFailed(f"the asset could not be fetched ({reason or type(exc).__name__})") from None
        raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")
    finally:
        partial.unlink(missing_ok=True)


def _save(response: httpx.Response, partial: Path, target: Path, started: float, limits: DownloadLimits) -> Downloaded:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(partial, "wb") as handle:
        # Chunks as they arrive: a fixed chunk size would wait for it to fill, and a server that
        # drips a byte at a time would never meet the deadline check.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limits.max_bytes:
                raise DownloadFailed(f"the file is larger than {limits.max_bytes} bytes allowed")
            if time.monotonic() - started > limits.deadline:
                raise DownloadFailed(f"the download took longer than {limits.deadline:.0f} seconds")
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return Downloaded(target, size, digest.hexdigest())
