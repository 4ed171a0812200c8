"""The process's metrics are made once, whichever threads ask for them first."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from printwork import metrics


def _printwork_collectors() -> set:
    return {c for n, c in REGISTRY._names_to_collectors.items() if n.startswith("printwork_")}


def test_threads_asking_for_the_metrics_at_once_get_the_same_ones(monkeypatch):
    earlier = _printwork_collectors()
    for collector in earlier:
        REGISTRY.unregister(collector)
    monkeypatch.setattr(metrics, "_made", None)
    import prometheus_client

    class SlowHistogram(prometheus_client.Histogram):  # widens the window two threads could meet in
        def __init__(self, *args, **kwargs):
            threading.Event().wait(0.02)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(prometheus_client, "Histogram", SlowHistogram)
    made, errors = [], []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        try:
            made.append(metrics.instruments())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len({id(m) for m in made}) == 1
    finally:  # the rest of the session keeps the metrics it had
        for collector in _printwork_collectors():
            REGISTRY.unregister(collector)
        for collector in earlier:
            REGISTRY.register(collector)
