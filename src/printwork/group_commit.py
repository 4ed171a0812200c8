"""Group commit: many requests' writes made durable by one transaction and one fsync.

Each unit of work runs in its own SAVEPOINT, so one that fails is rolled back alone and the
others still commit. A caller hears back only after the commit that made its work durable,
so a 2xx answer always means the data is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from printwork.db import Database, Writes

T = TypeVar("T")
log = logging.getLogger(__name__)
_STOP = object()


class GroupCommitter:
    def __init__(
        self,
        database: Database,
        max_batch: int = 64,
        after_commit: Callable[[list[int]], None] | None = None,
        threads: int = 1,
    ) -> None:
        self._database = database
        self._max_batch = max_batch
        # SQLite has one writer at a time, so more than one committing thread only queues on
        # its lock; a database server takes several transactions at once, and their round
        # trips then overlap.
        self._thread_count = 1 if database.is_sqlite else threads
        # Told, once per batch and only after its commit, which orders the batch made due.
        self._after_commit = after_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._loop, name=f"printwork-group-commit-{n}", daemon=True)
                    for n in range(self._thread_count)
                ]
                for thread in self._threads:
                    thread.start()

    def stop(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)  # each thread takes exactly one
        for thread in threads:
            thread.join(timeout=30)

    async def run(self, work: Callable[[Writes], T]) -> T:
        """Run `work` inside a shared write transaction and return its result once committed."""
        if not self._threads:
            self.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((work, future))
        return await future

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop_after = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_after = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop_after:
                return

    def _commit(self, batch: list[tuple[Callable[[Writes], Any], asyncio.Future]]) -> None:
        outcomes: list[tuple[asyncio.Future, bool, Any]] = []
        try:
            with self._database.writes() as writes:
                for work, future in batch:
                    outcomes.append((future, *self._run_unit(writes, work)))
                due_orders = writes.due_orders
        except Exception as exc:  # the commit itself failed: nothing in the batch is durable
            log.exception("group commit of %d unit(s) failed", len(batch))
            outcomes = [(future, False, exc) for _, future in batch]
            due_orders = []
        if due_orders and self._after_commit is not None:
            try:
                self._after_commit(due_orders)
            except Exception:  # the reconciler finds these orders anyway
                log.exception("could not enqueue %d new order(s); the reconciler will pick them up", len(due_orders))
        # One wake-up per event loop for the whole batch, rather than one thread-safe callback
        # (and one lock) per request: those were a sixth of the loop's time (py-spy --gil).
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for future, ok, value in outcomes:
            by_loop.setdefault(future.get_loop(), []).append((future, ok, value))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                pass


    @staticmethod
    def _run_unit(writes: Writes, work: Callable[[Writes], Any]) -> tuple[bool, Any]:
        """(True, result) or (False, the exception), the unit undone alone if it failed.

        A unit chosen as a deadlock's victim (two committing threads inserting the same
        idempotency keys in opposite orders) runs once more: the other transaction has its
        locks by then, so the retry waits for it and meets its rows as any later request would.
        """
        due_before = len(writes.due_orders)
        for attempt in (1, 2):
            try:
                with writes.raw.savepoint():
                    return True, work(writes)
            except Exception as exc:  # noqa: BLE001 - handed to the caller that owns it
                # Whatever the unit left in the ORM session was undone with its savepoint.
                writes.session.expunge_all()
                del writes.due_orders[due_before:]
                if attempt == 1 and _is_transient(exc):
                    log.warning("a unit of work met %s; running it again", type(exc).__name__)
                    continue
                return False, exc
        raise AssertionError("unreachable")


# PostgreSQL's deadlock_detected and serialization_failure: the statement lost a race, not a rule.
TRANSIENT_SQLSTATES = {"40P01", "40001"}


def _is_transient(exc: BaseException) -> bool:
    cause = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's exception
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES


def _settle_all(settled: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
