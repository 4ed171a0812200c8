"""What every request handler shares: settings, database, group committer and caches."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from printwork.api.rate_limits import KeyRateLimiter
from printwork.config import Settings
from printwork.core.assets.storage import AssetStorage
from printwork.storage import open_asset_storage
from printwork.core.callbacks.events import Announcer
from printwork.core.catalog.service import CatalogCache
from printwork.core.merchants.service import Owner, hash_key, key_owner_and_use
from printwork.db import Database
from printwork.group_commit import GroupCommitter
from printwork.jobs import JobQueue

if TYPE_CHECKING:
    from printwork.api.faces import OrderFace

T = TypeVar("T")

ORIGINAL_PATH = "printwork.original_path"  # scope key: a v4 path as sent, before it was lowered


class KeyCache:
    """API key -> owner, remembered for a few seconds so most requests skip the look-up.

    Revoking a key takes effect in every process within `ttl` seconds. Unknown keys are never
    remembered, so guessing cannot fill the cache.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[Owner, float]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> Owner | None:
        """The owner remembered for `key`, or None when it must be looked up."""
        entry = self._entries.get(hash_key(key))
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        return None

    def look_up(self, database: Database, key: str) -> tuple[Owner | None, bool]:
        """The key's owner from the database (None: no such live key), remembered if found, and
        whether its last use is due to be noted (`note_key_used`)."""
        now = time.monotonic()
        with database.read() as session:
            found = key_owner_and_use(session, key)
        if found is None:
            return None, False
        owner, note_use = found
        if self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[hash_key(key)] = (owner, now + self._ttl)
        return owner, note_use


class RenderedProducts:
    """Product details already rendered, for the current catalogue revision only."""

    def __init__(self) -> None:
        self._revision: int | None = None
        self._bodies: dict[str, bytes] = {}

    def get(self, revision: int, sku: str) -> bytes | None:
        return self._bodies.get(sku) if revision == self._revision else None

    def put(self, revision: int, sku: str, body: bytes) -> bytes:
        if revision != self._revision:
            self._revision, self._bodies = revision, {}
        self._bodies[sku] = body
        return body


@dataclass
class AppContext:
    settings: Settings
    database: Database
    committer: GroupCommitter
    jobs: JobQueue
    announcer: Announcer
    # How Printwork's own sandbox controls show the order they moved (api/faces.py).
    controls_order_face: OrderFace
    catalog: CatalogCache = field(default_factory=CatalogCache)
    rendered_products: RenderedProducts = field(default_factory=RenderedProducts)
    keys: KeyCache = field(init=False)
    storage: AssetStorage = field(init=False)
    rate_limiter: KeyRateLimiter = field(init=False)
    _threads: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.settings.api_key_cache_seconds)
        self.storage = open_asset_storage(self.settings)
        self.rate_limiter = KeyRateLimiter(self.settings.rate_limit, self.settings.queue_url,
                                           self.settings.auth_failure_limit)
        # Threads are started only when first needed.
        self._threads = ThreadPoolExecutor(self.settings.database_threads, "printwork-db")

    async def read(self, read: Callable[..., T], *args: Any) -> T:
        """`read(*args)`: inline on SQLite, where a read takes microseconds; on a thread on a
        database server, so that one request's round trip does not stop the event loop for
        every other request (bench/README.md, "On PostgreSQL")."""
        if self.database.is_sqlite:
            return read(*args)
        return await self.blocking(read, *args)

    async def blocking(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` on a thread, always: for transactions, which on SQLite may wait for
        the writer's lock (held by a group commit for milliseconds) and on a server wait
        several round trips; the event loop goes on serving meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)

    async def in_session(self, work: Callable[[Session], T], *, write: bool = False) -> T:
        """`work(session)` in a read, or in a transaction when `write`, by the rules above."""

        def run() -> T:
            with (self.database.transaction() if write else self.database.read()) as session:
                return work(session)

        return await (self.blocking(run) if write else self.read(run))

    def close(self) -> None:
        self._threads.shutdown(wait=False)


def new_trace_parent(incoming: str | None = None) -> str:
    """A W3C traceparent for this request; a valid incoming one keeps its trace id."""
    span = os.urandom(8).hex()
    if incoming and len(incoming) == 55 and incoming[2] == "-" and incoming[35] == "-":
        trace_id = incoming[3:35].lower()
        if all(c in "0123456789abcdef" for c in trace_id) and trace_id != "0" * 32:
            return f"00-{trace_id}-{span}-00"
    return f"00-{os.urandom(16).hex()}-{span}-00"
