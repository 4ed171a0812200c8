"""Callbacks owed to merchants: found by comparing an order with what it last announced.

Any code that changes an order calls `announce` in the same transaction. It compares what a
merchant can see that callbacks are about (the stage, the downloads' completion, each
shipment's status, tracking, lab and carrier) with what was last announced, and writes one event
per difference that the order's face announces, each carrying the whole order as that face
renders it at that moment. Writing the events in the changing transaction is what makes
delivery at-least-once: if the change commits, so do its events, and the delivery jobs find them.

What an event is called and how its body looks is the face's business (CallbackFace); the core
only says what changed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.models import OrderEvent
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import shipment_public_id
from printwork.core.orders.models import OrderHistory
from printwork.core.orders.renditions import Renditions
from printwork.core.orders.repository import orders_t, shipments_t

events_t = OrderEvent.__table__
history_t = OrderHistory.__table__

# What changed, as OrderChange.kind.
STAGE_CHANGED = "stage"  # value: the stage as the order's face shows it
DOWNLOADS_CHANGED = "downloads"  # value: Complete or Error
SHIPMENT_CHANGED = "shipment"  # value: the shipment's status; shipment_id says which

PENDING = "Pending"
DELIVERED = "Delivered"
FAILED = "Failed"

# Session.info key under which announce() leaves the ids of the events it wrote; the database
# hands them to the delivery queue once the transaction has committed.
NEW_EVENTS = "printwork.new_events"


@dataclass(frozen=True)
class OrderChange:
    kind: str  # STAGE_CHANGED, DOWNLOADS_CHANGED or SHIPMENT_CHANGED
    value: str
    shipment_id: str | None = None  # the shipment's public id, for SHIPMENT_CHANGED


@dataclass(frozen=True)
class EventContext:
    """Everything about the order an event is rendered from, besides the change itself."""

    event_id: str
    at: datetime
    order_id: int
    environment: str
    order_document: bytes  # the order in the face's rendition


@dataclass(frozen=True)
class RenderedEvent:
    event_type: str  # as the delivery log lists it
    body: bytes  # as every attempt sends it


class CallbackFace(Protocol):
    """How one API face tells its merchants about their orders."""

    rendition_format: str  # the face's stored rendition, which its events carry

    def shown_stage(self, stage: str) -> str | None:
        """The stage as this face's merchants see it; None while it shows none (e.g. paused)."""

    def render_event(self, change: OrderChange, context: EventContext) -> RenderedEvent | None:
        """The callback for `change`; None when this face does not announce such a change."""


@dataclass(frozen=True)
class Announcer:
    """The faces' callbacks, by the face name orders remember, and the renditions they carry."""

    renditions: Renditions
    faces: Mapping[str, CallbackFace]

    def face(self, name: str) -> CallbackFace:
        try:
            return self.faces[name]
        except KeyError:
            raise LookupError(f"no callback face registered for orders placed through {name!r}") from None


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def _snapshot(session: Session, order_id: int):
    order = session.execute(
        select(orders_t.c.stage, orders_t.c.download_assets, orders_t.c.announced_json, orders_t.c.callback_url,
               orders_t.c.face, orders_t.c.environment, Merchant.default_callback_url)
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
    current = {"stage": order.stage, "downloads": order.download_assets, "shipments": shipments}
    return order, current


def _record_history(session: Session, order_id: int, previous: dict, current: dict) -> None:
    """The order's timeline, in the core's words and whatever the face shows or calls back."""
    rows = []
    if current["stage"] != previous["stage"]:
        rows.append({"kind": STAGE_CHANGED, "value": current["stage"], "shipment_id": None})
    if current["downloads"] != previous["downloads"]:
        rows.append({"kind": DOWNLOADS_CHANGED, "value": current["downloads"], "shipment_id": None})
    for shipment_id, now in current["shipments"].items():
        before = previous["shipments"].get(shipment_id)
        if before is None or before[0] != now[0]:
            rows.append({"kind": SHIPMENT_CHANGED, "value": now[0], "shipment_id": shipment_id})
    if rows:
        occurred_at = utcnow()
        session.execute(insert(history_t), [{**row, "order_id": order_id, "occurred_at": occurred_at} for row in rows])


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
    if "downloadAssets" in previous:  # the key's name before faces had their own words
        previous["downloads"] = previous.pop("downloadAssets")
    _record_history(session, order_id, previous, current)
    face = announcer.face(order.face)
    changes: list[OrderChange] = []
    if current["downloads"] != previous["downloads"] and current["downloads"] in ("Complete", "Error"):
        changes.append(OrderChange(DOWNLOADS_CHANGED, current["downloads"]))
    for shipment_id, now in current["shipments"].items():
        if previous["shipments"].get(shipment_id) != now:
            changes.append(OrderChange(SHIPMENT_CHANGED, now[0], shipment_id))
    # Stages are compared as merchants see them: a paused order shows none, and the end of a
    # payment wait is no change for them.
    shown_now, shown_before = face.shown_stage(current["stage"]), face.shown_stage(previous["stage"])
    if shown_now != shown_before and shown_now is not None:
        changes.append(OrderChange(STAGE_CHANGED, shown_now))
    url = order.callback_url or order.default_callback_url
    if not changes or not url:
        return []
    # The rendition readers get too: rendered once for this version, stored at commit.
    order_document = announcer.renditions.current(session, order_id, face.rendition_format)
    now_time = utcnow()
    ids = []
    for change in changes:
        public_id = new_event_id()
        event = face.render_event(change, EventContext(public_id, now_time, order_id, order.environment, order_document))
        if event is None:
            continue
        ids.append(session.execute(insert(events_t).returning(events_t.c.id).values(
            public_id=public_id, order_id=order_id, event_type=event.event_type, occurred_at=now_time, url=url,
            body=event.body, status=PENDING, attempts=0, next_attempt_at=now_time,
        )).scalar_one())
    session.info.setdefault(NEW_EVENTS, []).extend(ids)
    return ids
