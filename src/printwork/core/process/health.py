"""What an operator watches: work waiting per step, failures, and a few figures over time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from printwork.core.callbacks.delivery import attempts_t, redeliver
from printwork.core.callbacks.events import DELIVERED, FAILED, PENDING, events_t
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import STAGE_AWAITING_PAYMENT, STAGE_DRAFT, STAGE_IN_PROGRESS, STAGE_ON_HOLD
from printwork.core.orders.models import Order, OrderAsset, Shipment
from printwork.core.orders.progress import ASSET_ERROR, COMPLETE

orders_t = Order.__table__
assets_t = OrderAsset.__table__
shipments_t = Shipment.__table__
merchants_t = Merchant.__table__

# The order process's steps, in order, as the orders' status details name them.
STEPS = (("download_assets", "Downloading images"), ("print_ready_assets_prepared", "Preparing print files"),
         ("allocate_production_location", "Allocating a lab"), ("in_production", "In production"),
         ("shipping", "Shipping"))


@dataclass(frozen=True)
class FailedDownload:
    order_id: int
    merchant_name: str
    asset_id: int
    attempts: int


@dataclass(frozen=True)
class CallbackHealth:
    merchant_id: int
    merchant_name: str
    delivered: int
    pending: int
    failed: int

    @property
    def failure_rate(self) -> float:
        finished = self.delivered + self.failed
        return self.failed / finished if finished else 0.0


@dataclass(frozen=True)
class Health:
    due_now: int
    oldest_due_at: datetime | None
    waiting: list[tuple[str, int]]  # (what the orders wait for, how many)
    failed_downloads: list[FailedDownload]
    failed_download_count: int
    callbacks: list[CallbackHealth]


@dataclass(frozen=True)
class Backlog:
    """What is waiting now: cheap enough to read at every metrics scrape (indexed columns only)."""

    orders_due: int
    oldest_due_at: datetime | None
    callbacks_undelivered: int
    oldest_undelivered_at: datetime | None


def backlog(session: Session, now: datetime | None = None) -> Backlog:
    now = now or utcnow()
    due_now, oldest = session.execute(select(func.count(), func.min(orders_t.c.due_at))
                                      .where(orders_t.c.due_at <= now)).one()
    undelivered, oldest_event = session.execute(select(func.count(), func.min(events_t.c.occurred_at))
                                                .where(events_t.c.status == PENDING)).one()
    return Backlog(due_now, oldest, undelivered, oldest_event)


def health(session: Session) -> Health:
    waiting_now = backlog(session)
    due_now, oldest = waiting_now.orders_due, waiting_now.oldest_due_at
    waiting = []
    for stage, label in ((STAGE_DRAFT, "Drafts"), (STAGE_ON_HOLD, "On hold"),
                         (STAGE_AWAITING_PAYMENT, "Awaiting payment")):
        waiting.append((label, session.execute(select(func.count()).select_from(orders_t)
                                               .where(orders_t.c.stage == stage)).scalar_one()))
    in_progress = orders_t.c.stage == STAGE_IN_PROGRESS
    done_before = []
    for column, label in STEPS:
        condition = [in_progress, orders_t.c[column] != COMPLETE, *done_before]
        waiting.append((label, session.execute(select(func.count()).select_from(orders_t)
                                               .where(*condition)).scalar_one()))
        done_before.append(orders_t.c[column] == COMPLETE)
    failed_query = (select(assets_t.c.order_id, merchants_t.c.name, assets_t.c.id, assets_t.c.attempts)
                    .join(orders_t, orders_t.c.id == assets_t.c.order_id)
                    .join(merchants_t, merchants_t.c.id == orders_t.c.merchant_id)
                    .where(assets_t.c.status == ASSET_ERROR))
    failed = [FailedDownload(*row) for row in session.execute(failed_query.order_by(assets_t.c.id.desc()).limit(20))]
    failed_count = session.execute(select(func.count()).select_from(assets_t)
                                   .where(assets_t.c.status == ASSET_ERROR)).scalar_one()
    callbacks = [CallbackHealth(*row) for row in session.execute(
        select(merchants_t.c.id, merchants_t.c.name,
               func.sum(case((events_t.c.status == DELIVERED, 1), else_=0)),
               func.sum(case((events_t.c.status == PENDING, 1), else_=0)),
               func.sum(case((events_t.c.status == FAILED, 1), else_=0)))
        .select_from(events_t).join(orders_t, orders_t.c.id == events_t.c.order_id)
        .join(merchants_t, merchants_t.c.id == orders_t.c.merchant_id)
        .group_by(merchants_t.c.id, merchants_t.c.name).order_by(merchants_t.c.name))]
    return Health(due_now, oldest, waiting, failed, failed_count, callbacks)


def retry_failed_callbacks(session: Session, merchant_id: int) -> list[int]:
    """Every callback of the merchant's (both environments) that failed for good, sent again."""
    ids = list(session.execute(select(events_t.c.id).join(orders_t, orders_t.c.id == events_t.c.order_id)
                               .where(orders_t.c.merchant_id == merchant_id, events_t.c.status == FAILED)).scalars())
    for event_id in ids:
        redeliver(session, event_id)
    return ids


@dataclass(frozen=True)
class Trends:
    days: list[date]
    orders_per_day: dict[str, list[int]]  # face -> count per day
    shipped_hours: list[float | None]  # median hours from order to shipped, per day shipped
    callback_success: list[float | None]  # share of delivery attempts answered 2xx, per day


def trends(session: Session, days: int = 14, today: date | None = None) -> Trends:
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time())
    dates = [first + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(dates)}
    per_face: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    for created_at, face in session.execute(select(orders_t.c.created_at, orders_t.c.face)
                                            .where(orders_t.c.created_at >= start)):
        per_face[face][index[created_at.date()]] += 1
    durations: dict[int, list[float]] = defaultdict(list)
    for dispatched, created in session.execute(
            select(shipments_t.c.dispatch_date, orders_t.c.created_at)
            .join(orders_t, orders_t.c.id == shipments_t.c.order_id).where(shipments_t.c.dispatch_date >= start)):
        if dispatched.date() in index:
            durations[index[dispatched.date()]].append((dispatched - created).total_seconds() / 3600)
    answered: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for attempted_at, status_code in session.execute(select(attempts_t.c.attempted_at, attempts_t.c.status_code)
                                                     .where(attempts_t.c.attempted_at >= start)):
        if attempted_at.date() in index:
            tally = answered[index[attempted_at.date()]]
            tally[1] += 1
            tally[0] += status_code is not None and 200 <= status_code < 300
    return Trends(
        dates, dict(per_face),
        [_median(durations[n]) if durations[n] else None for n in range(days)],
        [answered[n][0] / answered[n][1] if answered[n][1] else None for n in range(days)],
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
