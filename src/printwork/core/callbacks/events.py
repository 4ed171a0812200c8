"""Callbacks owed to merchants: found by comparing an order with what it last announced.

Any code that changes an order calls `announce` in the same transaction. It compares what a
merchant can see that callbacks are about (the stage, the downloads' completion, each
shipment's status, tracking, lab and carrier) with what was last announced, and writes one CloudEvent per
difference, each carrying the whole order as it is at that moment. Writing the events in the
changing transaction is what makes delivery at-least-once: if the change commits, so do its
events, and the delivery jobs find them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.models import OrderEvent
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import order_public_id, shipment_public_id
from printwork.core.orders.renditions import Renditions
from printwork.core.orders.repository import orders_t, shipments_t

events_t = OrderEvent.__table__

STAGE_CHANGED = "com.prodigi.order.status.stage.changed#"
DOWNLOADS_CHANGED = "com.prodigi.order.status.details.downloadAssets.changed#"
SHIPMENT_CHANGED = "com.prodigi.order.shipments.changed#"

PENDING = "Pending"
DELIVERED = "Delivered"
FAILED = "Failed"

# Session.info key under which announce() leaves the ids of the events it wrote; the database
# hands them to the delivery queue once the transaction has committed.
NEW_EVENTS = "printwork.new_events"


@dataclass(frozen=True)
class Announcer:
    """How events are written: the order in a face's stored rendition, and the events' `source`."""

    renditions: Renditions
    rendition_format: str  # the face whose rendition of the order the events carry
    shown_stage: Callable[[str], str | None]  # the stage as merchants see it (None: not shown)
    source: str  # e.g. https://printwork.example/v4.0/Orders/


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def event_body(announcer: Announcer, event_type: str, public_id: str, at, order_id: int, order_document) -> bytes:
    """The CloudEvent as every attempt sends it; `order_document` is the order's rendition (bytes or Fragment)."""
    if isinstance(order_document, bytes):
        order_document = orjson.Fragment(order_document)
    return orjson.dumps({
        "specversion": "1.0",
        "type": event_type,
        "source": announcer.source,
        "id": public_id,
        "time": at.isoformat(timespec="microseconds") + "Z",
        "datacontenttype": "application/json",
        "subject": order_public_id(order_id),
        "data": {"order": order_document},
    })


def _snapshot(session: Session, order_id: int):
    order = session.execute(
        select(orders_t.c.stage, orders_t.c.download_assets, orders_t.c.announced_json, orders_t.c.callback_url,
               Merchant.default_callback_url)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id).where(orders_t.c.id == order_id)
    ).one_or_none()
    if order is None:
        return None, None
    shipments = {
        shipment_public_id(r.id): [r.status, r.tracking_number, r.lab_code, r.carrier, r.service]
        for r in session.execute(select(shipments_t.c.id, shipments_t.c.status, shipments_t.c.tracking_number,
                                        shipments_t.c.lab_code, shipments_t.c.carrier, shipments_t.c.service)
                                 .where(shipments_t.c.order_id == order_id).order_by(shipments_t.c.id))
    }
    current = {"stage": order.stage, "downloadAssets": order.download_assets, "shipments": shipments}
    return order, current


def announce(session: Session, order_id: int, announcer: Announcer | None) -> list[int]:
    """Write the callbacks this order now owes; returns the new events' ids."""
    if announcer is None:
        return []  # nobody to tell (only tests drive orders without one)
    order, current = _snapshot(session, order_id)
    if order is None:
        return []
    previous = orjson.loads(order.announced_json) if order.announced_json else None
    if previous == current:
        return []
    session.execute(update(orders_t).where(orders_t.c.id == order_id)
                    .values(announced_json=orjson.dumps(current).decode()))
    if previous is None:
        return []  # the order was just placed: creation is not announced (documents, step 1)
    types: list[str] = []
    if current["downloadAssets"] != previous["downloadAssets"] and current["downloadAssets"] in ("Complete", "Error"):
        types.append(DOWNLOADS_CHANGED + current["downloadAssets"])
    for shipment_id, now in current["shipments"].items():
        if previous["shipments"].get(shipment_id) != now:
            types.append(SHIPMENT_CHANGED + now[0])
    # Stages are compared as merchants see them: a paused order shows none, and the end of a
    # payment wait is no change for them.
    shown_now, shown_before = announcer.shown_stage(current["stage"]), announcer.shown_stage(previous["stage"])
    if shown_now != shown_before and shown_now is not None:
        types.append(STAGE_CHANGED + shown_now)
    url = order.callback_url or order.default_callback_url
    if not types or not url:
        return []
    # The rendition readers get too: rendered once for this version, stored at commit.
    order_document = orjson.Fragment(announcer.renditions.current(session, order_id, announcer.rendition_format))
    now_time = utcnow()
    ids = []
    for event_type in types:
        public_id = new_event_id()
        body = event_body(announcer, event_type, public_id, now_time, order_id, order_document)
        ids.append(session.execute(insert(events_t).returning(events_t.c.id).values(
            public_id=public_id, order_id=order_id, event_type=event_type, occurred_at=now_time, url=url,
            body=body, status=PENDING, attempts=0, next_attempt_at=now_time,
        )).scalar_one())
    session.info.setdefault(NEW_EVENTS, []).extend(ids)
    return ids
