"""Prometheus metrics: what the processes count, and what a scrape reads from the database.

Counters and histograms live in the process that does the work (API processes: requests and
orders placed; workers: order-process jobs, callback attempts). Under `printwork serve` every
process (its server processes and its worker child) writes them to one multiprocess directory
(`PROMETHEUS_MULTIPROC_DIR`, set by the command before any of them starts), and /metrics adds
them up. What the database knows (queue depth, the oldest due order, undelivered callbacks) is
read at each scrape, so it is right whichever process answers.

The instruments are made on first use, not at import: prometheus_client chooses multiprocess
storage when it is first imported, which must come after the command has set the directory.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from printwork.core.process.health import Backlog

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def prepare_multiprocess_directory(path: Path) -> None:
    """Start a command's processes without a previous run's counts (they would be added in).
    Only prometheus_client's own files go: the directory may be one an operator chose."""
    path.mkdir(parents=True, exist_ok=True)
    for previous in path.glob("*.db"):
        previous.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


@dataclass(frozen=True)
class Instruments:
    requests: Any  # Histogram(face, route, method, status)
    orders_created: Any  # Counter(face, environment)
    steps: Any  # Histogram(outcome): pipeline jobs, each driving one order as far as it can go
    callback_attempts: Any  # Counter(outcome)
    callback_lag: Any  # Histogram: from the event's creation to its delivery
    downloads: Any  # Counter(outcome): downloaded, retrying, failed
    download_bytes: Any  # Counter: bytes of originals stored


_made: Instruments | None = None
_making = threading.Lock()


def instruments() -> Instruments:
    """Made once per process. Under a lock: two job threads making them at once registered the
    same names twice (DuplicateTimeseries), and the delivery job that met it lost its retries."""
    global _made
    if _made is None:
        with _making:
            if _made is None:
                _made = _make_instruments()
    return _made


def _make_instruments() -> Instruments:
    from prometheus_client import Counter, Histogram

    return Instruments(
        requests=Histogram("printwork_http_request_duration_seconds",
                           "HTTP requests by face, route template, method and status, and how long each took.",
                           ("face", "route", "method", "status"), buckets=LATENCY_BUCKETS),
        orders_created=Counter("printwork_orders_created", "Orders placed, by the face they came through.",
                               ("face", "environment")),
        steps=Histogram("printwork_pipeline_jobs_seconds",
                        "Order-process jobs (one order driven as far as it can go now), by outcome.",
                        ("outcome",), buckets=STEP_BUCKETS),
        callback_attempts=Counter("printwork_callback_attempts", "Callback delivery attempts, by outcome.",
                                  ("outcome",)),
        callback_lag=Histogram("printwork_callback_delivery_lag_seconds",
                               "From a callback's event to its delivery.", buckets=STEP_BUCKETS),
        downloads=Counter("printwork_downloads", "Asset download attempts, by outcome (downloaded; retrying: "
                          "failed, to be tried again; failed: for good).", ("outcome",)),
        download_bytes=Counter("printwork_download_bytes", "Bytes of originals downloaded and stored."),
    )


def order_created(face: str, environment: str) -> None:
    instruments().orders_created.labels(face, environment).inc()


class RequestTimer:
    """Per-request observation with the label children kept, so a request costs one dict look-up."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, str, int], Any] = {}

    def observe(self, face: str, route: str, method: str, status: int, seconds: float) -> None:
        key = (face, route, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = instruments().requests.labels(face, route, method, str(status))
        child.observe(seconds)


def exposition(state: Backlog, queue_depth: int | None, now: datetime) -> tuple[bytes, str]:
    """The text format of every process's counters plus the backlog gauges, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY

    def age(at: datetime | None) -> float:
        return max(0.0, (now - at).total_seconds()) if at else 0.0

    class BacklogCollector:
        def collect(self):
            if queue_depth is not None:
                yield GaugeMetricFamily("printwork_queue_depth", "Jobs waiting in the queue.", value=queue_depth)
            yield GaugeMetricFamily("printwork_orders_due", "Orders whose next step is due now.",
                                    value=state.orders_due)
            yield GaugeMetricFamily("printwork_oldest_due_order_age_seconds",
                                    "How long the longest-waiting due order has waited.", value=age(state.oldest_due_at))
            yield GaugeMetricFamily("printwork_callbacks_undelivered", "Callbacks not yet delivered (due or waiting "
                                    "for a retry).", value=state.callbacks_undelivered)
            yield GaugeMetricFamily("printwork_oldest_undelivered_callback_age_seconds",
                                    "How long the oldest undelivered callback has waited.",
                                    value=age(state.oldest_undelivered_at))

    output = generate_latest(registry) + generate_latest(_Only(BacklogCollector()))
    return output, CONTENT_TYPE_LATEST


class _Only:
    """A registry of one collector, for generate_latest."""

    def __init__(self, collector) -> None:
        self._collector = collector

    def collect(self):
        return self._collector.collect()
