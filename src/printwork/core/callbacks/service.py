"""What a merchant can see and do about callbacks: an order's deliveries, a redelivery, settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.delivery import attempts_t, redeliver
from printwork.core.callbacks.events import FAILED, events_t
from printwork.core.errors import CoreError, EntityNotFound
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import Owner, ensure_signing_secret
from printwork.core.orders.repository import orders_t, owned_order_id


@dataclass(frozen=True)
class AttemptView:
    attempted_at: datetime
    url: str
    status_code: int | None
    duration_ms: int
    error: str | None


@dataclass(frozen=True)
class EventView:
    id: int
    public_id: str
    event_type: str
    occurred_at: datetime
    url: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    history: list[AttemptView]


def deliveries(session: Session, owner: Owner, order_id: int) -> list[EventView]:
    owned_order_id(session, owner, order_id)
    rows = session.execute(select(events_t).where(events_t.c.order_id == order_id).order_by(events_t.c.id)).mappings().all()
    history: dict[int, list[AttemptView]] = {}
    if rows:
        for a in session.execute(select(attempts_t).where(attempts_t.c.event_id.in_([r["id"] for r in rows]))
                                 .order_by(attempts_t.c.id)).mappings():
            history.setdefault(a["event_id"], []).append(
                AttemptView(a["attempted_at"], a["url"], a["status_code"], a["duration_ms"], a["error"]))
    return [
        EventView(r["id"], r["public_id"], r["event_type"], r["occurred_at"], r["url"], r["status"], r["attempts"],
                  r["next_attempt_at"], r["delivered_at"], history.get(r["id"], []))
        for r in rows
    ]


def redeliver_event(session: Session, owner: Owner, public_id: str) -> tuple[int, int]:
    """(event id, order id) of the merchant's event, scheduled to be sent again now."""
    row = session.execute(
        select(events_t.c.id, events_t.c.order_id).join(orders_t, orders_t.c.id == events_t.c.order_id)
        .where(events_t.c.public_id == public_id, orders_t.c.merchant_id == owner.merchant_id,
               orders_t.c.environment == owner.environment)
    ).first()
    if row is None:
        raise EntityNotFound(f"no callback {public_id}")
    redeliver(session, row[0])
    return row[0], row[1]


@dataclass(frozen=True)
class CallbackSettings:
    default_callback_url: str | None
    signing_secret: str


def callback_settings(session: Session, owner: Owner, default_callback_url: str | None = None,
                      change_url: bool = False) -> CallbackSettings:
    if change_url:
        session.execute(update(Merchant).where(Merchant.id == owner.merchant_id)
                        .values(default_callback_url=default_callback_url))
    secret = ensure_signing_secret(session, owner.merchant_id)
    url = session.execute(select(Merchant.default_callback_url).where(Merchant.id == owner.merchant_id)).scalar_one()
    return CallbackSettings(url, secret)


@dataclass(frozen=True)
class DeliveryLine:
    """One callback as a person following deliveries sees it: the event and its latest attempt."""

    event_id: int
    public_id: str
    order_id: int
    environment: str
    event_type: str
    occurred_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt: AttemptView | None


def merchant_id_named(session: Session, name: str) -> int:
    merchant_id = session.execute(select(Merchant.id).where(Merchant.name == name)).scalar_one_or_none()
    if merchant_id is None:
        raise CoreError(f"no merchant named {name!r}")
    return merchant_id


def recent_deliveries(session: Session, merchant_id: int, *, environment: str | None = None,
                      limit: int = 20) -> list[DeliveryLine]:
    """The merchant's newest callbacks, newest first, each with its latest attempt."""
    query = (select(events_t.c.id, events_t.c.public_id, events_t.c.order_id, orders_t.c.environment,
                    events_t.c.event_type, events_t.c.occurred_at, events_t.c.status, events_t.c.attempts,
                    events_t.c.next_attempt_at)
             .join(orders_t, orders_t.c.id == events_t.c.order_id)
             .where(orders_t.c.merchant_id == merchant_id).order_by(events_t.c.id.desc()).limit(limit))
    if environment is not None:
        query = query.where(orders_t.c.environment == environment)
    rows = session.execute(query).all()
    latest: dict[int, AttemptView] = {}
    if rows:
        newest = (select(attempts_t.c.event_id, func.max(attempts_t.c.id).label("id"))
                  .where(attempts_t.c.event_id.in_([r.id for r in rows])).group_by(attempts_t.c.event_id).subquery())
        for a in session.execute(select(attempts_t).join(newest, newest.c.id == attempts_t.c.id)).mappings():
            latest[a["event_id"]] = AttemptView(a["attempted_at"], a["url"], a["status_code"], a["duration_ms"],
                                                a["error"])
    return [DeliveryLine(r.id, r.public_id, r.order_id, r.environment, r.event_type, r.occurred_at, r.status,
                         r.attempts, r.next_attempt_at, latest.get(r.id)) for r in rows]


def redeliver_failed(session: Session, owner: Owner, since: datetime) -> list[int]:
    """Every callback of the owner's that failed for good since `since`, scheduled again; their ids."""
    ids = list(session.execute(
        select(events_t.c.id).join(orders_t, orders_t.c.id == events_t.c.order_id)
        .where(orders_t.c.merchant_id == owner.merchant_id, orders_t.c.environment == owner.environment,
               events_t.c.status == FAILED, events_t.c.occurred_at >= since)
        .order_by(events_t.c.id)).scalars())
    for event_id in ids:
        redeliver(session, event_id)
    return ids
