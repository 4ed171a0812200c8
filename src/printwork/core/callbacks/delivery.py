"""Delivering callbacks: at least once, signed, retried on a schedule, every attempt recorded.

A batch of due events is claimed under a lease (so two workers never send the same attempt),
sent concurrently, and the outcomes written in one transaction. Success is a 2xx within the
timeout; a redirect is not followed and counts as a failure, as does anything else (a 410 too:
the documents promise retries until a 200 or 15 failures). Each event gets ATTEMPTS tries in all,
with growing, jittered waits between them; a receiver that answers 429 or 503 with Retry-After
is not tried again before the time it asked for (at most RETRY_AFTER_MAX later).
"""

from __future__ import annotations

from collections.abc import Callable

import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from standardwebhooks.webhooks import Webhook

from printwork import logs
from printwork.core.assets.download import DownloadLimits, guarded_client
from printwork.core.callbacks.events import DELIVERED, FAILED, PENDING, events_t
from printwork.core.callbacks.models import DeliveryAttempt
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import ensure_signing_secret, utcnow
from printwork.core.orders.repository import orders_t
from printwork.db import Database

log = logging.getLogger(__name__)
attempts_t = DeliveryAttempt.__table__
merchants_t = Merchant.__table__

ATTEMPTS = 15
RETRY_AFTER_MAX = timedelta(hours=6)
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


@dataclass(frozen=True)
class DeliveryRules:
    delays_live: tuple[float, ...]  # seconds before attempts 2..15
    delays_sandbox: tuple[float, ...]
    timeout: float
    allow_private_urls: bool
    lease: timedelta = timedelta(seconds=120)
    jitter: float = 0.2  # each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
    batch: int = 200
    concurrency: int = 16

    @classmethod
    def from_settings(cls, settings) -> DeliveryRules:
        return cls(
            delays_live=tuple(settings.callback_retry_delays_live),
            delays_sandbox=tuple(settings.callback_retry_delays_sandbox),
            timeout=settings.callback_timeout_seconds,
            allow_private_urls=settings.allow_private_urls,
            lease=timedelta(seconds=settings.job_lease_seconds),
        )

    def delay(self, sandbox: bool, failed_attempt: int) -> timedelta:
        delays = self.delays_sandbox if sandbox else self.delays_live
        base = delays[min(failed_attempt, len(delays)) - 1] if delays else 0.0
        return timedelta(seconds=base * random.uniform(1 - self.jitter, 1 + self.jitter))


@dataclass(frozen=True)
class _Claimed:
    id: int
    order_id: int
    public_id: str
    url: str
    body: bytes
    attempts: int
    sandbox: bool
    secret: tuple[str, ...]  # the current signing secret, and during a rotation's overlap the old one
    occurred_at: datetime
    merchant_id: int | None = None
    trace_parent: str | None = None  # of the request that made the order
    face: str | None = None


@dataclass(frozen=True)
class _Outcome:
    event: _Claimed
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    duration_ms: int
    error: str | None
    answer: bytes  # the start of the receiver's answer, for people reading a test delivery
    retry_after: timedelta | None = None  # what a 429 or 503 asked for, capped at RETRY_AFTER_MAX

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


ANSWER_KEPT = 512


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        wait = when.astimezone(UTC).replace(tzinfo=None) - now
    return min(max(wait, timedelta(0)), RETRY_AFTER_MAX)


def post_signed(client: httpx.Client, url: str, event_id: str, body: bytes, secret: str | tuple[str, ...],
                timeout: float) -> Sent:
    """POST one callback signed for Standard Webhooks receivers; never raises for the receiver's faults.

    Several secrets (a rotation's overlap) give one signature each, space-separated, as Standard
    Webhooks allows: a receiver that knows either secret accepts the callback."""
    started = time.perf_counter()
    timestamp = int(time.time())
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = " ".join(Webhook(one).sign(event_id, signed_at, body.decode())
                          for one in ((secret,) if isinstance(secret, str) else secret))
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "Printwork callbacks",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
    status_code, error, answer, retry_after = None, None, b"", None
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            status_code = response.status_code
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) >= ANSWER_KEPT:
                    break
            if response.is_redirect:
                error = f"redirected to {response.headers.get('location', '?')}; redirects are not followed"
            elif not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
                if status_code in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
                    if retry_after is not None:
                        error += f"; asked to wait {retry_after.total_seconds():g} s"
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        cause = exc.__cause__ or exc.__context__
        error = f"could not deliver ({cause or exc or type(exc).__name__})"
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Sent(status_code, duration_ms, error, answer[:ANSWER_KEPT], retry_after)


class Deliverer:
    """Sends due callbacks; one per worker process (it keeps an HTTP connection pool)."""

    def __init__(self, database: Database, rules: DeliveryRules,
                 observe: Callable[[bool, float], None] | None = None) -> None:
        """`observe(delivered, seconds since the event)`, after each attempt is recorded (metrics)."""
        self.database = database
        self.rules = rules
        self._observe = observe
        self._limits = DownloadLimits(connect_timeout=min(rules.timeout, 5.0), read_timeout=rules.timeout,
                                      deadline=rules.timeout)
        # A client (and connection pool) per sending thread: one shared pool's lock was where the
        # threads spent most of their time (py-spy, bench/callbacks.py).
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=rules.concurrency, thread_name_prefix="printwork-callback")

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = guarded_client(self._limits, allow_private=self.rules.allow_private_urls, max_connections=2)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close()

    def deliver(self, event_ids: list[int] | None = None) -> list[tuple[int, datetime]]:
        """Send the given events (or any due ones) that are due; returns (event id, next try) for
        those that failed and will be tried again."""
        claimed = self._claim(event_ids)
        if not claimed:
            return []
        # Orders in parallel; one order's events one after another, oldest first, so a receiver
        # hears of a shipment before it hears the order is complete.
        by_order: dict[int, list[_Claimed]] = {}
        for event in claimed:
            by_order.setdefault(event.order_id, []).append(event)
        outcomes = [o for group in self._pool.map(self._send_in_order, by_order.values()) for o in group]
        retries = self._record(outcomes)
        if self._observe is not None:
            now = utcnow()
            try:
                for outcome in outcomes:
                    self._observe(outcome.delivered, (now - outcome.event.occurred_at).total_seconds())
            except Exception:  # noqa: BLE001 - counting must never cost the retries their schedule
                log.exception("could not count %d callback attempt(s)", len(outcomes))
        return retries

    def _send_in_order(self, events: list[_Claimed]) -> list[_Outcome]:
        return [self._send(event) for event in events]

    def _claim(self, event_ids: list[int] | None) -> list[_Claimed]:
        now = utcnow()
        token = uuid.uuid4().hex
        # Given ids, the rows are found by primary key. Left to itself SQLite (no ANALYZE statistics)
        # would walk the (status, next_attempt_at) index over every due event instead: with a backlog
        # of 15,000 callbacks that made each claim scan them all (bench/dashboard.py). `status || ''`
        # keeps that index out of its choice; PostgreSQL takes the key either way.
        def due(status) -> ColumnElement[bool]:
            return and_(status == PENDING, events_t.c.next_attempt_at <= now,
                        or_(events_t.c.lease_expires_at.is_(None), events_t.c.lease_expires_at < now))

        by_key = due(events_t.c.status.concat(""))
        with self.database.transaction() as session:
            if event_ids is None:
                query = select(events_t.c.id).where(due(events_t.c.status))
            else:
                query = select(events_t.c.id).where(events_t.c.id.in_(event_ids[: self.rules.batch]), by_key)
            ids = list(session.execute(query.order_by(events_t.c.id).limit(self.rules.batch)).scalars())
            if not ids:
                return []
            session.execute(update(events_t).where(events_t.c.id.in_(ids), by_key)
                            .values(lease_token=token, lease_expires_at=now + self.rules.lease))
            rows = session.execute(
                select(events_t.c.id, events_t.c.order_id, events_t.c.public_id, events_t.c.url, events_t.c.body, events_t.c.attempts,
                       events_t.c.occurred_at, orders_t.c.environment, merchants_t.c.id.label("merchant_id"), merchants_t.c.callback_secret,
                       merchants_t.c.previous_callback_secret, merchants_t.c.previous_callback_secret_until,
                       orders_t.c.trace_parent, orders_t.c.face)
                .join(orders_t, orders_t.c.id == events_t.c.order_id)
                .join(merchants_t, merchants_t.c.id == orders_t.c.merchant_id)
                # By key: lease_token has no index, and alone it made each claim read the whole outbox.
                .where(events_t.c.id.in_(ids), events_t.c.lease_token == token).order_by(events_t.c.id)
            ).all()
            secrets_by_merchant: dict[int, str] = {}
            for row in rows:
                if row.callback_secret is None and row.merchant_id not in secrets_by_merchant:
                    secrets_by_merchant[row.merchant_id] = ensure_signing_secret(session, row.merchant_id)
        return [
            _Claimed(r.id, r.order_id, r.public_id, r.url, bytes(r.body), r.attempts, r.environment == "sandbox",
                     signing_secrets(r.callback_secret or secrets_by_merchant[r.merchant_id],
                                     r.previous_callback_secret, r.previous_callback_secret_until, now),
                     r.occurred_at, r.merchant_id, r.trace_parent, r.face)
            for r in rows
        ]

    def _send(self, event: _Claimed) -> _Outcome:
        attempted_at = utcnow()
        with logs.bound(order=event.order_id, merchant=event.merchant_id, trace=event.trace_parent,
                        through=event.face):
            sent = post_signed(self._client(), event.url, event.public_id, event.body, event.secret,
                               self.rules.timeout)
            log.info("callback %s attempt %d to %s: %s in %d ms", event.public_id, event.attempts + 1,
                     urlsplit(event.url).netloc, sent.status_code if sent.error is None else sent.error,
                     sent.duration_ms)
        return _Outcome(event, attempted_at, sent.status_code, sent.duration_ms, sent.error, sent.retry_after)

    def _record(self, outcomes: list[_Outcome]) -> list[tuple[int, datetime]]:
        """One transaction for the whole batch: the attempts, then each event's new state."""
        retries = []
        now = utcnow()
        delivered, exhausted, again = [], [], []
        for outcome in outcomes:
            event = outcome.event
            if outcome.delivered:
                delivered.append(event.id)
            elif event.attempts + 1 >= ATTEMPTS:
                exhausted.append(event.id)
            else:
                next_at = now + max(self.rules.delay(event.sandbox, event.attempts + 1),
                                    outcome.retry_after or timedelta(0))
                again.append({"event_id": event.id, "next_at": next_at})
                retries.append((event.id, next_at))
        released = {"attempts": events_t.c.attempts + 1, "lease_token": None, "lease_expires_at": None}
        with self.database.transaction() as session:
            session.execute(insert(attempts_t), [
                {"event_id": o.event.id, "attempted_at": o.attempted_at, "url": o.event.url,
                 "status_code": o.status_code, "duration_ms": o.duration_ms, "error": o.error}
                for o in outcomes
            ])
            if delivered:
                session.execute(update(events_t).where(events_t.c.id.in_(delivered))
                                .values(status=DELIVERED, delivered_at=now, next_attempt_at=None, **released))
            if exhausted:
                session.execute(update(events_t).where(events_t.c.id.in_(exhausted))
                                .values(status=FAILED, next_attempt_at=None, **released))
            if again:
                session.connection().execute(
                    update(events_t).where(events_t.c.id == bindparam("event_id"))
                    .values(next_attempt_at=bindparam("next_at"), **released), again)
        return retries


def signing_secrets(current: str, previous: str | None, previous_until: datetime | None,
                    now: datetime) -> tuple[str, ...]:
    """The secrets a callback is signed with: the current one, and the one it replaced while the
    rotation's overlap lasts."""
    if previous and previous_until is not None and previous_until > now:
        return (current, previous)
    return (current,)


def redeliver(session, event_id: int) -> bool:
    """Start the event's schedule again (same id and body); its past attempts stay on record."""
    return bool(session.execute(update(events_t).where(events_t.c.id == event_id).values(
        status=PENDING, attempts=0, next_attempt_at=utcnow(), lease_token=None, lease_expires_at=None,
        delivered_at=None)).rowcount)


def overdue_events(session, grace: timedelta, limit: int = 1000) -> list[int]:
    """Pending events nobody has sent although due for longer than `grace` (lost jobs)."""
    now = utcnow()
    return list(session.execute(
        select(events_t.c.id).where(
            events_t.c.status == PENDING, events_t.c.next_attempt_at <= now - grace,
            or_(events_t.c.lease_expires_at.is_(None), events_t.c.lease_expires_at < now),
        ).order_by(events_t.c.id).limit(limit)
    ).scalars())
