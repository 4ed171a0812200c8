"""Per-key rate limits (PRINTWORK_RATE_LIMIT), counted with the `limits` library.

In one process's memory, or in Redis when PRINTWORK_QUEUE_URL points there, so that a limit holds
across every API process. Several limits may be given (`100/second;1000/minute`): a short one caps
a burst, a longer one the sustained rate; a request must be within all of them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

NAMESPACE = "printwork-api-key"
log = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after}s")
        self.retry_after = retry_after


def parse_rate_limit(spec: str) -> list[RateLimitItem]:
    """The limits of a PRINTWORK_RATE_LIMIT value; ValueError naming it when it cannot be read."""
    try:
        return parse_many(spec)
    except ValueError:
        raise ValueError(f"PRINTWORK_RATE_LIMIT {spec!r} is not a rate limit such as '50/second' or "
                         "'100/second;1000/minute'") from None


class KeyRateLimiter:
    def __init__(self, spec: str | None, queue_url: str | None) -> None:
        self.items = parse_rate_limit(spec) if spec else []
        self.shared = bool(queue_url and queue_url.startswith(("redis://", "rediss://")))
        storage = storage_from_string(queue_url if self.shared else "memory://")
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._last_warning = -math.inf

    @property
    def enabled(self) -> bool:
        return bool(self.items)

    def check(self, api_key: str) -> None:
        """Count one request of the key; RateLimited (with the seconds to wait) past any limit.
        Blocking when the counts are in Redis: callers run it off the event loop then."""
        # The key itself never reaches the counter store, only a digest of it.
        identity = hashlib.sha256(api_key.encode()).hexdigest()[:32]
        for item in self.items:
            try:
                allowed = self._limiter.hit(item, NAMESPACE, identity)
                reset_at = None if allowed else self._limiter.get_window_stats(item, NAMESPACE, identity)[0]
            except Exception as exc:  # noqa: BLE001 - the counter store is down: serve, and say so
                # An outage of the counters must not become an outage of the API (readyz names it).
                now = time.monotonic()
                if now - self._last_warning > 60:
                    self._last_warning = now
                    log.warning("rate limits not applied: their store cannot be reached (%s)", type(exc).__name__)
                return
            if reset_at is not None:
                raise RateLimited(max(1, math.ceil(reset_at - time.time())))
