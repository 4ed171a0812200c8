"""The order process's slow work: fetching an original, drawing the print files.

Plain functions of plain values, so they can run in the job's own thread or in a process of
lower CPU priority (`SlowWorkPool`). A process, not a thread: a low-priority thread of the
worker holds the worker's GIL while it runs pyvips' Python glue, and when the API's threads
preempt it, the worker's own transactions (which hold the database's write lock, and so the
API's commits) wait behind it (bench/README.md, "served.py").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, TypeVar

import httpx
import pyvips

from printwork.core.assets import geometry, imaging
from printwork.core.assets.download import DownloadFailed, DownloadLimits, download, guarded_client
from printwork.core.assets.storage import AssetStorage

T = TypeVar("T")

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client_for(limits: DownloadLimits, allow_private: bool) -> httpx.Client:
    """One guarded connection pool per process and rules, shared by its threads (a slow-work
    process makes its own), made on first use."""
    with _clients_lock:
        client = _clients.get((limits, allow_private))
        if client is None:
            client = _clients[(limits, allow_private)] = guarded_client(limits, allow_private=allow_private)
        return client


def fetch_original(url: str, sample: Path | None, md5_hash: str | None, accepted: frozenset[str], scratch: Path,
                   storage: AssetStorage, key: str, limits: DownloadLimits, allow_private: bool) -> imaging.ImageInfo:
    """Download (or copy the shipped sample), check and store an original; raises DownloadFailed
    or imaging.UnusableImage."""
    if sample is not None:
        shutil.copyfile(sample, scratch)
        md5 = hashlib.md5(scratch.read_bytes()).hexdigest()
    else:
        md5 = download(url, scratch, _client_for(limits, allow_private), limits).md5
    if md5_hash and md5 != md5_hash.lower():
        raise DownloadFailed(f"the file's MD5 hash {md5} does not match the md5Hash given, {md5_hash}")
    found = imaging.inspect(scratch, accepted)
    storage.put(key, scratch)
    return found


def make_print_files(storage: AssetStorage, original: str, is_pdf: bool, original_size: tuple[int, int] | None,
                     print_size: tuple[int, int] | None, sizing: str, print_path: Path, thumb_path: Path,
                     print_key: str, thumb_key: str) -> bool:
    """The print file (a PDF as sent, or the picture at the print area's exact size) and the
    thumbnail; False if no thumbnail could be drawn."""
    has_thumbnail = True
    with storage.local_path(original) as source:
        if is_pdf:
            shutil.copyfile(source, print_path)
            storage.put(print_key, print_path)
            try:
                imaging.thumbnail(source, thumb_path)
            except pyvips.Error:
                has_thumbnail = False  # this libvips cannot draw PDFs; the lab gets the PDF as sent
        else:
            assert original_size is not None and print_size is not None
            plan = geometry.plan(*original_size, *print_size, sizing)
            with imaging.RENDER_BUDGET.held(max(original_size[0] * original_size[1], print_size[0] * print_size[1])):
                imaging.render(source, plan, print_path, thumbnail_target=thumb_path)
            storage.put(print_key, print_path)
    if has_thumbnail:
        storage.put(thumb_key, thumb_path)
    return has_thumbnail


def _enter_pool_process(nice: int) -> None:
    os.nice(nice)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker stops its pool; ^C is for the worker


class SlowWorkPool:
    """Runs slow work in `processes` child processes `nice` steps lower in CPU priority."""

    def __init__(self, nice: int, processes: int) -> None:
        self._pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"),
                                         initializer=_enter_pool_process, initargs=(nice,))

    def run(self, work: Callable[..., T], *args) -> T:
        return self._pool.submit(work, *args).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
