"""The job queue (Huey) and the reconciler that keeps it honest.

The database says what is due; the queue only carries the news. Jobs are enqueued after the
commit that made an order due, carry nothing but its id, and reload everything. A job lost on
the way (a crash between commit and enqueue, a worker killed mid-job, a queue wiped) is found
by the reconciler, which scans for orders overdue by more than a grace period and whose lease
has lapsed, and enqueues them again.
"""

from __future__ import annotations

import ctypes
import os
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from huey import PriorityRedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer
from huey.storage import SqliteStorage
from sqlalchemy import and_, or_, select, update

from printwork import logs, metrics
from printwork.config import Settings
from printwork.core.callbacks.delivery import Deliverer, DeliveryRules, overdue_events
from printwork.core.callbacks.events import NEW_EVENTS, Announcer, events_t
from printwork.core.merchants.service import utcnow
from printwork.core.orders.repository import orders_t
from printwork.core.process.pipeline import (
    ProcessRules,
    ProcessRuntime,
    drive_order,
    purge_scratch,
)
from printwork.db import Database
from printwork.storage import open_asset_storage

log = logging.getLogger(__name__)

DRIVE_ORDER = "printwork.drive_order"
DRIVE_ORDERS = "printwork.drive_orders"
DELIVER_EVENTS = "printwork.deliver_events"
SCHEDULE_HORIZON = timedelta(hours=1)
DELIVERY_PRIORITY = 10  # order jobs have none (0); higher runs first


class _QueueStorage(SqliteStorage):
    # The queue is not the source of truth (the reconciler rebuilds what a crash loses), so it
    # skips the fsync per enqueue that `synchronous=FULL` would cost; WAL keeps it consistent.
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class _QueueHuey(SqliteHuey):
    storage_class = _QueueStorage


def make_huey(settings: Settings) -> Huey:
    if settings.queue_url:
        # A priority queue (a sorted set; Redis >= 5): callbacks go before a backlog of order work.
        # Under its own name: the earlier plain queue was a list under "printwork", and Redis would
        # refuse sorted-set commands on it (WRONGTYPE) after an upgrade. Whatever that list still
        # held is found again by the reconciler, which re-drives every due order and callback.
        return PriorityRedisHuey("printwork_prioritised", url=settings.queue_url, results=False, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _QueueHuey("printwork", filename=str(settings.data_dir / "queue.db"), results=False, utc=True)


class JobQueue:
    """Enqueues order work, and (in worker processes) runs it."""

    def __init__(self, settings: Settings, database: Database, announcer: Announcer | None,
                 slow_work_nice: int = 0) -> None:
        """`announcer`: how the faces render the callbacks the order process writes (api/faces.py);
        `slow_work_nice`: how much lower the priority of downloads and image work is (ProcessRuntime)."""
        self.settings = settings
        self.database = database
        self.announcer = announcer
        self.slow_work_nice = slow_work_nice
        self.huey = make_huey(settings)
        self._runtime: ProcessRuntime | None = None
        self._runtime_lock = threading.Lock()
        self._deliverer: Deliverer | None = None
        self._drive = self.huey.task(name=DRIVE_ORDER)(self._run_drive)
        self._drive_many = self.huey.task(name=DRIVE_ORDERS)(self._run_drive_many)
        # A shop waits on its callbacks while the pipeline works through a burst of orders, and a
        # delivery is a short HTTP post: it goes ahead of order jobs (bench/dashboard.py's settle).
        self._deliver = self.huey.task(name=DELIVER_EVENTS, priority=DELIVERY_PRIORITY)(self._run_deliver)
        # Callback events written by any transaction on this database go out once it commits.
        database.after_commit.append(self._on_commit)

    # Producers ----------------------------------------------------------------------------

    def orders_due(self, order_ids: list[int]) -> None:
        """Orders whose work is due now (one queue write for the lot)."""
        if len(order_ids) == 1:
            self._drive(order_ids[0])
        elif order_ids:
            self._drive_many(list(order_ids))

    def events_due(self, event_ids: list[int], at: datetime | None = None) -> None:
        if not event_ids:
            return
        now = utcnow()
        if at is None or at <= now:
            self._deliver(list(event_ids))
        elif at - now <= SCHEDULE_HORIZON:
            self._deliver.schedule(args=(list(event_ids),), eta=at.replace(tzinfo=UTC))
        # later retries: the reconciler finds them by `next_attempt_at`

    def _on_commit(self, info: dict) -> None:
        new_events = info.pop(NEW_EVENTS, None)
        if new_events:
            try:
                self.events_due(new_events)
            except Exception:  # noqa: BLE001 - the reconciler finds them anyway
                log.exception("could not enqueue %d callback(s); the reconciler will", len(new_events))

    def order_due(self, order_id: int, at: datetime | None = None) -> None:
        now = utcnow()
        if at is None or at <= now:
            self._drive(order_id)
        elif at - now <= SCHEDULE_HORIZON:
            self._drive.schedule(args=(order_id,), eta=at.replace(tzinfo=UTC))
        # Anything further off (a retention purge a month away, a live retry hours away) is left
        # to the reconciler, which finds it by `due_at`: the queue would otherwise hold one
        # scheduled task per order for weeks.

    # Consumers ----------------------------------------------------------------------------

    @property
    def runtime(self) -> ProcessRuntime:
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = ProcessRuntime(
                    database=self.database,
                    storage=open_asset_storage(self.settings),
                    rules=ProcessRules.from_settings(self.settings),
                    notify_due=self.order_due,
                    announcer=self.announcer,
                    observe_download=_observe_download,
                    slow_work_nice=self.slow_work_nice,
                    slow_work_processes=max(1, min(self.settings.worker_threads, os.cpu_count() or 1)),
                )
            return self._runtime

    @property
    def deliverer(self) -> Deliverer:
        with self._runtime_lock:
            if self._deliverer is None:
                self._deliverer = Deliverer(self.database, DeliveryRules.from_settings(self.settings),
                                            observe=_observe_callback)
            return self._deliverer

    def _run_drive(self, order_id: int) -> None:
        began = time.perf_counter()
        outcome = "error"
        try:
            with logs.bound(order=order_id):
                drive_order(self.runtime, order_id)
            outcome = "ok"
        finally:
            metrics.instruments().steps.labels(outcome).observe(time.perf_counter() - began)

    def _run_deliver(self, event_ids: list[int]) -> None:
        # A batch may be larger than one claim; keep going until these are all sent.
        retries = []
        for start in range(0, len(event_ids), self.deliverer.rules.batch):
            retries += self.deliverer.deliver(event_ids[start:start + self.deliverer.rules.batch])
        by_time: dict[datetime, list[int]] = {}
        for event_id, at in retries:
            # Grouped by the second, rounded up: a job that ran before its events were due would
            # claim none of them, and they would wait for the reconciler's grace.
            second = at.replace(microsecond=0) + (timedelta(seconds=1) if at.microsecond else timedelta(0))
            by_time.setdefault(second, []).append(event_id)
        for at, ids in by_time.items():
            self.events_due(ids, at)

    def _run_drive_many(self, order_ids: list[int]) -> None:
        # Spread over the worker threads rather than driven one after another here.
        for order_id in order_ids:
            self._drive(order_id)

    def reconcile_once(self, limit: int = 1000) -> int:
        """Re-enqueue every overdue order nobody is working on; returns how many."""
        now = utcnow()
        overdue_before = now - timedelta(seconds=self.settings.reconcile_grace_seconds)
        lapsed = or_(orders_t.c.lease_expires_at.is_(None), orders_t.c.lease_expires_at < now)
        with self.database.read() as session:
            rows = session.execute(
                select(orders_t.c.id, orders_t.c.due_at)
                .where(orders_t.c.due_at <= overdue_before, lapsed)
                .order_by(orders_t.c.due_at).limit(limit)
            ).all()
        revived = []
        for order_id, due_at in rows:
            # Moving due_at to now claims the re-drive, so several reconcilers enqueue it once,
            # and the next pass leaves it alone for another grace period.
            with self.database.transaction() as session:
                claimed = session.execute(
                    update(orders_t).where(and_(orders_t.c.id == order_id, orders_t.c.due_at == due_at, lapsed))
                    .values(due_at=now)
                ).rowcount
            if claimed:
                revived.append(order_id)
        if revived:
            log.info("reconciler: re-driving %d overdue order(s)", len(revived))
            self.orders_due(revived)
        return len(revived) + self._reconcile_events(now)

    def _reconcile_events(self, now: datetime) -> int:
        grace = timedelta(seconds=self.settings.reconcile_grace_seconds)
        with self.database.transaction() as session:
            overdue = overdue_events(session, grace)
            if overdue:
                # Moving them to now claims the re-send, as for orders above.
                session.execute(update(events_t).where(events_t.c.id.in_(overdue)).values(next_attempt_at=now))
        if overdue:
            log.info("reconciler: re-sending %d overdue callback(s)", len(overdue))
            for start in range(0, len(overdue), 200):
                self.events_due(overdue[start:start + 200])
        return len(overdue)

    def close(self) -> None:
        if self._on_commit in self.database.after_commit:
            self.database.after_commit.remove(self._on_commit)
        if self._runtime is not None:
            self._runtime.close()
        if self._deliverer is not None:
            self._deliverer.close()


def _observe_download(outcome: str, stored_bytes: int) -> None:
    found = metrics.instruments()
    found.downloads.labels(outcome).inc()
    if stored_bytes:
        found.download_bytes.inc(stored_bytes)


def _observe_callback(delivered: bool, lag_seconds: float) -> None:
    found = metrics.instruments()
    found.callback_attempts.labels("delivered" if delivered else "failed").inc()
    if delivered:
        found.callback_lag.observe(lag_seconds)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that mallocs its own arena; with image work in several threads
    that kept ~700 MB resident where two arenas keep ~300 MB at the same speed (bench/pipeline.py).
    Must run before the job threads start; a no-op where glibc is absent."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


M_ARENA_MAX = -8


class _EmbeddedConsumer(Consumer):
    """A consumer that leaves signal handling to its host (uvicorn or the worker command)."""

    def _set_signal_handlers(self) -> None:
        pass


class Workers:
    """Job threads plus the reconciler, started and stopped together."""

    def __init__(self, jobs: JobQueue, threads: int) -> None:
        self.jobs = jobs
        self.consumer = _EmbeddedConsumer(
            jobs.huey, workers=threads, worker_type="thread", periodic=False,
            initial_delay=0.05, backoff=1.5, max_delay=0.5, check_worker_health=False,
        )
        self._stop = threading.Event()
        self._reconciler = threading.Thread(target=self._reconcile_loop, name="printwork-reconciler", daemon=True)

    def start(self) -> None:
        _limit_malloc_arenas()
        self.consumer.start()
        self._reconciler.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.consumer.shutdown_timeout = timeout
        self.consumer.stop(graceful=True)
        self._reconciler.join(timeout=timeout)
        self.jobs.close()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass

    def request_stop(self) -> None:
        self._stop.set()

    def _reconcile_loop(self) -> None:
        interval = self.jobs.settings.reconcile_interval_seconds
        storage = self.jobs.runtime.storage
        while not self._stop.wait(interval):
            try:
                self.jobs.reconcile_once()
                purge_scratch(storage, timedelta(hours=1))
            except Exception:
                log.exception("reconciler pass failed")
