"""The sandbox's lab: it makes and ships every sandbox shipment by itself, one step per delay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer
from printwork.core.labs.shipments import mark_in_production, mark_shipped, tracking_url
from printwork.core.merchants.service import utcnow
from printwork.core.orders.progress import LAB_IN_PRODUCTION, LAB_SUBMITTED, OrderState, refresh_status
from printwork.core.orders.repository import shipments_t


def advance_sandbox_shipment(session: Session, order_id: int, shipment_id: int, delay: timedelta,
                             announcer: Announcer | None) -> OrderState | None:
    """Submitted -> InProduction -> Shipped, one step per call; the order as it now is, or None
    if the shipment had no step left."""
    now = utcnow()
    shipment = session.execute(select(shipments_t).where(shipments_t.c.id == shipment_id)).mappings().one()
    if shipment["lab_stage"] == LAB_SUBMITTED:
        mark_in_production(session, shipment_id, now, next_due=now + delay)
    elif shipment["lab_stage"] == LAB_IN_PRODUCTION:
        number = f"SBX{shipment_id:010d}"
        mark_shipped(session, shipment_id, now, tracking_number=number,
                     tracking_url=tracking_url(shipment["carrier"], number))
    else:
        return None
    return refresh_status(session, order_id, announcer)
