"""Step 3 of the order process: give each item a lab, group them into shipments, and charge.

Uses the same allocation function as quotes, in the merchant's billing currency, so an order is
charged exactly what the same basket was quoted. Safe to run twice: the first run claims the
step with a conditional update, and any later or concurrent run finds it taken and does nothing.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from printwork.core.catalog.domain import Catalog
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import STAGE_IN_PROGRESS
from printwork.core.orders.renditions import order_changed
from printwork.core.orders.repository import (
    charge_items_t,
    charges_t,
    items_t,
    orders_t,
    shipment_items_t,
    shipments_t,
)
from printwork.core.pricing.allocation import BasketLine, allocate

DETAIL_COMPLETE = "Complete"
SHIPMENT_PROCESSING = "Processing"
CHARGE_ITEM = "Item"
CHARGE_SHIPPING = "Shipping"


def allocate_order(session: Session, order_id: int, catalog: Catalog) -> bool:
    """Allocate and charge the order; False if it was already allocated or is not in progress.

    Raises NotAllocatable (and so rolls back with the caller) when the catalogue no longer lets
    some item be made and sent there by the order's method.
    """
    now = utcnow()
    claimed = session.execute(
        update(orders_t)
        .where(
            orders_t.c.id == order_id,
            orders_t.c.stage == STAGE_IN_PROGRESS,
            orders_t.c.allocate_production_location != DETAIL_COMPLETE,
        )
        .values(allocate_production_location=DETAIL_COMPLETE, version=orders_t.c.version + 1, updated_at=now)
    ).rowcount
    if not claimed:
        return False
    order_changed(session, order_id)
    order = session.execute(
        select(orders_t.c.address_country_code, orders_t.c.shipping_method, Merchant.billing_currency)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id)
        .where(orders_t.c.id == order_id)
    ).one()
    items = session.execute(
        select(items_t.c.id, items_t.c.sku, items_t.c.copies).where(items_t.c.order_id == order_id).order_by(items_t.c.position)
    ).all()
    currency = order.billing_currency
    allocation = allocate(
        catalog, [BasketLine(item.sku, item.copies) for item in items], order.address_country_code,
        order.shipping_method, currency,
    )

    shipment_ids = []
    for position, shipment in enumerate(allocation.shipments):
        shipment_id = session.execute(
            insert(shipments_t).returning(shipments_t.c.id),
            [{
                "order_id": order_id, "position": position, "lab_code": shipment.lab.code,
                "lab_country_code": shipment.lab.country_code, "shipping_method": allocation.method,
                "carrier": shipment.rate.carrier, "service": shipment.rate.service, "tracked": shipment.rate.tracked,
                "status": SHIPMENT_PROCESSING, "tracking_number": None, "tracking_url": None, "dispatch_date": None,
            }],
        ).scalar_one()
        shipment_ids.append(shipment_id)
        session.execute(insert(shipment_items_t), [{"shipment_id": shipment_id, "item_id": items[p].id} for p in shipment.positions])

    item_charge = _charge(session, order_id, CHARGE_ITEM, allocation.items_total, currency, now)
    session.execute(insert(charge_items_t), [
        {"charge_id": item_charge, "item_id": items[line.position].id, "shipment_id": None,
         "amount": line.unit_cost * line.copies, "currency": currency}
        for line in allocation.lines
    ])
    shipping_charge = _charge(session, order_id, CHARGE_SHIPPING, allocation.shipping_total, currency, now)
    session.execute(insert(charge_items_t), [
        {"charge_id": shipping_charge, "item_id": None, "shipment_id": shipment_id, "amount": shipment.cost, "currency": currency}
        for shipment_id, shipment in zip(shipment_ids, allocation.shipments)
    ])
    return True


def _charge(session: Session, order_id: int, charge_type: str, total, currency: str, now) -> int:
    return session.execute(
        insert(charges_t).returning(charges_t.c.id),
        [{"order_id": order_id, "charge_type": charge_type, "invoice_number": None, "total_amount": total,
          "currency": currency, "created_at": now}],
    ).scalar_one()
