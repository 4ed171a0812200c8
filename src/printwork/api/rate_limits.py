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
FAILURES_NAMESPACE = "printwork-auth-failures"
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
    """Requests per API key and, against guessing, failed authentications per client address.

    An address past its failure limit is refused every request until its window has room again,
    a valid key included: were a found key answered, the refusals would not slow the guessing.
    """

    def __init__(self, spec: str | None, queue_url: str | None, failures_spec: str | None = None) -> None:
        self.items = parse_rate_limit(spec) if spec else []
        self.failure_items = parse_rate_limit(failures_spec) if failures_spec and self.items else []
        self.shared = bool(queue_url and queue_url.startswith(("redis://", "rediss://")))
        storage = storage_from_string(queue_url if self.shared else "memory://")
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._last_warning = -math.inf

    @property
    def enabled(self) -> bool:
        return bool(self.items)

    @property
    def guards_failures(self) -> bool:
        return bool(self.failure_items)

    def check(self, api_key: str) -> None:
        """Count one request of the key; RateLimited (with the seconds to wait) past any limit.
        Blocking when the counts are in Redis: callers run it off the event loop then."""
        # The key itself never reaches the counter store, only a digest of it.
        self._hit(self.items, NAMESPACE, hashlib.sha256(api_key.encode()).hexdigest()[:32])

    def check_address(self, address: str) -> None:
        """RateLimited while the address is past its failed-authentication limit; counts nothing."""
        for item in self.failure_items:
            try:
                reset_at, remaining = self._limiter.get_window_stats(item, FAILURES_NAMESPACE, address)
            except Exception as exc:  # noqa: BLE001 - as in _hit
                self._store_unreachable(exc)
                return
            if remaining <= 0:
                raise RateLimited(max(1, math.ceil(reset_at - time.time())))

    def note_failure(self, address: str) -> None:
        """One more failed authentication from the address."""
        try:
            for item in self.failure_items:
                self._limiter.hit(item, FAILURES_NAMESPACE, address)
        except Exception as exc:  # noqa: BLE001 - as in _hit
            self._store_unreachable(exc)

    def _hit(self, items: list[RateLimitItem], namespace: str, identity: str) -> None:
        for item in items:
            try:
                allowed = self._limiter.hit(item, namespace, identity)
                reset_at = None if allowed else self._limiter.get_window_stats(item, namespace, identity)[0]
            except Exception as exc:  # noqa: BLE001 - the counter store is down: serve, and say so
                self._store_unreachable(exc)
                return
            if reset_at is not None:
                raise RateLimited(max(1, math.ceil(reset_at - time.time())))

    def _store_unreachable(self, exc: Exception) -> None:
        # An outage of the counters must not become an outage of the API (readyz names it).
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("rate limits not applied: their store cannot be reached (%s)", type(exc).__name__)
