"""Changing an order after it is placed: cancel, shipping method, recipient, metadata.

Each action runs in the caller's transaction and locks the order row first (as the pipeline's
fence does), so an action and a pipeline step, or two actions, never interleave: an action sees
the order as it is and either applies in full to what it reports as updated or changes nothing.

What can still change is a question of where each shipment is with its lab (INVENTORY §3.6,
A-14): a shipment can be changed (method, address) until it is sent to its lab, and stopped
(cancelled) until the lab starts producing it. Before allocation the whole order can change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer, announce
from printwork.core.catalog.domain import Catalog
from printwork.core.errors import EntityNotFound, FailureCollector
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import Owner, utcnow
from printwork.core.orders.domain import (
    ISSUE_REQUIRES_PAYMENT,
    STAGE_AWAITING_PAYMENT,
    STAGE_CANCELLED,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    Outcome,
    Recipient,
    shipment_public_id,
)
from printwork.core.orders.drafts import reprice_draft
from printwork.core.orders.renditions import order_changed
from printwork.core.orders.repository import (
    charge_items_t,
    charges_t,
    issues_t,
    items_t,
    orders_t,
    shipment_items_t,
    shipments_t,
)
from printwork.core.orders.rules import check_country, check_metadata
from printwork.core.pricing.allocation import Allocation, BasketLine, NotAllocatable, allocate
from printwork.core.orders.payment import reprice_payment
from printwork.core.orders.progress import (
    LAB_ALLOCATED,
    LAB_CANCELLED,
    LAB_REJECTED,
    LAB_SUBMITTED,
    SHIPMENT_CANCELLED,
    SHIPMENT_PROCESSING,
    refresh_status,
)

OPEN_STAGES = (STAGE_DRAFT, STAGE_IN_PROGRESS, STAGE_ON_HOLD, STAGE_AWAITING_PAYMENT)
CHANGEABLE = (LAB_ALLOCATED,)
STOPPABLE = (LAB_ALLOCATED, LAB_SUBMITTED, LAB_REJECTED)

# Why a shipment could not be changed (each face names these its own way)
SHIPMENT_NOT_AVAILABLE = "shipment_not_available"
SHIPMENT_UPDATE_FAILED = "shipment_update_failed"

CHARGE_REFUND = "Refund"
CHARGE_ITEM = "Item"
CHARGE_SHIPPING = "Shipping"


@dataclass(frozen=True)
class ShipmentResult:
    shipment_id: int
    successful: bool
    error_code: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ActionResult:
    outcome: Outcome
    shipments: list[ShipmentResult] = field(default_factory=list)


@dataclass(frozen=True)
class Availability:
    cancel: bool
    change_recipient: bool
    change_shipping_method: bool
    change_metadata: bool = True  # "Metadata can be updated at any time"


@dataclass(frozen=True)
class _Order:
    id: int
    stage: str
    country: str
    method: str
    currency: str


@dataclass(frozen=True)
class _Shipment:
    id: int
    lab_stage: str


def _locked(session: Session, owner: Owner, order_id: int, *, lock: bool = True) -> _Order:
    query = (
        select(orders_t.c.id, orders_t.c.stage, orders_t.c.address_country_code, orders_t.c.shipping_method,
               Merchant.billing_currency)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id)
        .where(orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
               orders_t.c.environment == owner.environment)
    )
    row = session.execute(query.with_for_update(of=orders_t) if lock else query).first()
    if row is None:
        raise EntityNotFound(f"order {order_id} not found")
    # SQLite ignores FOR UPDATE; its write transactions (BEGIN IMMEDIATE) are already exclusive.
    return _Order(row[0], row[1], row[2], row[3], row[4])


def _active_shipments(session: Session, order_id: int) -> list[_Shipment]:
    return [
        _Shipment(r.id, r.lab_stage)
        for r in session.execute(select(shipments_t.c.id, shipments_t.c.lab_stage)
                                 .where(shipments_t.c.order_id == order_id, shipments_t.c.lab_stage != LAB_CANCELLED)
                                 .order_by(shipments_t.c.position))
    ]


def availability(session: Session, owner: Owner, order_id: int) -> Availability:
    order = _locked(session, owner, order_id, lock=False)
    return availability_for(order.stage, [s.lab_stage for s in _active_shipments(session, order_id)])


def availability_for(stage: str, active_lab_stages: list[str]) -> Availability:
    """What can be done to an order in `stage` whose shipments not cancelled are at these lab stages."""
    if stage not in OPEN_STAGES:
        return Availability(cancel=False, change_recipient=False, change_shipping_method=False)
    stoppable = not active_lab_stages or any(s in STOPPABLE for s in active_lab_stages)
    changeable = not active_lab_stages or any(s in CHANGEABLE for s in active_lab_stages)
    return Availability(cancel=stoppable, change_recipient=changeable, change_shipping_method=changeable)


def _touch(session: Session, order_id: int, **values) -> None:
    session.execute(update(orders_t).where(orders_t.c.id == order_id)
                    .values(version=orders_t.c.version + 1, updated_at=utcnow(), **values))
    order_changed(session, order_id)


# --- cancel --------------------------------------------------------------------------------

def cancel(session: Session, owner: Owner, order_id: int, announcer: Announcer | None) -> ActionResult:
    order = _locked(session, owner, order_id)
    if order.stage not in OPEN_STAGES:
        return ActionResult(Outcome.ACTION_NOT_AVAILABLE)
    shipments = _active_shipments(session, order_id)
    if not shipments:
        # Not allocated yet (or paused, or awaiting payment): nothing was charged or made.
        session.execute(delete(issues_t).where(issues_t.c.order_id == order_id,
                                               issues_t.c.error_code == ISSUE_REQUIRES_PAYMENT))
        _touch(session, order_id, stage=STAGE_CANCELLED, due_at=None, hold_until=None)
        announce(session, order_id, announcer)
        return ActionResult(Outcome.CANCELLED)
    stoppable = [s for s in shipments if s.lab_stage in STOPPABLE]
    results = [
        ShipmentResult(s.id, s in stoppable, None if s in stoppable else SHIPMENT_NOT_AVAILABLE,
                       None if s in stoppable else f"shipment {shipment_public_id(s.id)} is already being made")
        for s in shipments
    ]
    if not stoppable:
        return ActionResult(Outcome.FAILED_TO_CANCEL, results)
    ids = [s.id for s in stoppable]
    session.execute(update(shipments_t).where(shipments_t.c.id.in_(ids))
                    .values(lab_stage=LAB_CANCELLED, status=SHIPMENT_CANCELLED, lab_due_at=None))
    _refund(session, order_id, ids)
    # The stage becomes Cancelled if nothing is left to send (derived in refresh_status).
    refresh_status(session, order_id, announcer)
    return ActionResult(Outcome.CANCELLED, results)


def _refund(session: Session, order_id: int, shipment_ids: list[int]) -> None:
    """A Refund charge giving back the items and shipping of the cancelled shipments."""
    item_ids = list(session.execute(select(shipment_items_t.c.item_id)
                                    .where(shipment_items_t.c.shipment_id.in_(shipment_ids))).scalars())
    charged = session.execute(
        select(charge_items_t.c.item_id, charge_items_t.c.shipment_id, charge_items_t.c.amount, charge_items_t.c.currency)
        .join(charges_t, charges_t.c.id == charge_items_t.c.charge_id)
        .where(charges_t.c.order_id == order_id, charges_t.c.charge_type.in_((CHARGE_ITEM, CHARGE_SHIPPING)),
               (charge_items_t.c.item_id.in_(item_ids)) | (charge_items_t.c.shipment_id.in_(shipment_ids)))
        .order_by(charge_items_t.c.id)
    ).all()
    if not charged:
        return
    currency = charged[0].currency
    total = sum((Decimal(row.amount) for row in charged), Decimal(0))
    charge_id = session.execute(insert(charges_t).returning(charges_t.c.id).values(
        order_id=order_id, charge_type=CHARGE_REFUND, invoice_number=None, total_amount=-total, currency=currency,
        created_at=utcnow())).scalar_one()
    session.execute(insert(charge_items_t), [
        {"charge_id": charge_id, "item_id": row.item_id, "shipment_id": row.shipment_id,
         "amount": -Decimal(row.amount), "currency": row.currency}
        for row in charged
    ])


# --- shipping method and recipient -----------------------------------------------------------

def update_shipping_method(session: Session, owner: Owner, order_id: int, method: str, catalog: Catalog,
                           announcer: Announcer | None) -> ActionResult:
    order = _locked(session, owner, order_id)
    result = _change_delivery(session, order, catalog, order.country, method)
    if result.outcome in (Outcome.UPDATED, Outcome.PARTIALLY_UPDATED):
        _touch(session, order_id, shipping_method=method)
        _after_change(session, order, catalog, announcer)
    return result


def update_recipient(session: Session, owner: Owner, order_id: int, recipient: Recipient, catalog: Catalog,
                     announcer: Announcer | None) -> ActionResult:
    failures = FailureCollector()
    check_country(recipient.address.country_code, "recipient.address.country_code", failures)
    failures.raise_if_any()
    order = _locked(session, owner, order_id)
    address = recipient.address
    result = _change_delivery(session, order, catalog, address.country_code, order.method)
    if result.outcome in (Outcome.UPDATED, Outcome.PARTIALLY_UPDATED):
        _touch(session, order_id, recipient_name=recipient.name, recipient_email=recipient.email,
               recipient_phone=recipient.phone_number, address_line1=address.line1, address_line2=address.line2,
               address_postal_code=address.postal_or_zip_code, address_country_code=address.country_code,
               address_town=address.town_or_city, address_state=address.state_or_county)
        _after_change(session, order, catalog, announcer)
    return result


def _after_change(session: Session, order: _Order, catalog: Catalog, announcer: Announcer | None) -> None:
    if order.stage == STAGE_AWAITING_PAYMENT:
        reprice_payment(session, order.id, catalog)  # the amount follows the new destination or method
    elif order.stage == STAGE_DRAFT:
        reprice_draft(session, order.id, catalog)  # a draft changed through v4 shows its new price in v3
    refresh_status(session, order.id, announcer)


def _change_delivery(session: Session, order: _Order, catalog: Catalog, country: str, method: str) -> ActionResult:
    """Re-allocate and re-price every shipment that can still change for `country` and `method`.

    Nothing is written unless at least one shipment (or, before allocation, the order) can take
    the change."""
    if order.stage not in OPEN_STAGES:
        return ActionResult(Outcome.ACTION_NOT_AVAILABLE)
    shipments = _active_shipments(session, order.id)
    items = session.execute(select(items_t.c.id, items_t.c.sku, items_t.c.copies)
                            .where(items_t.c.order_id == order.id).order_by(items_t.c.position)).all()
    if not shipments:
        try:
            allocate(catalog, [BasketLine(i.sku, i.copies) for i in items], country, method, order.currency)
        except NotAllocatable:
            return ActionResult(Outcome.FAILED_TO_UPDATE)
        return ActionResult(Outcome.UPDATED)
    changeable = [s for s in shipments if s.lab_stage in CHANGEABLE]
    if not changeable:
        return ActionResult(Outcome.ACTION_NOT_AVAILABLE)
    items_by_id = {i.id: i for i in items}
    members: dict[int, list[int]] = defaultdict(list)
    for shipment_id, item_id in session.execute(
        select(shipment_items_t.c.shipment_id, shipment_items_t.c.item_id)
        .where(shipment_items_t.c.shipment_id.in_([s.id for s in changeable])).order_by(shipment_items_t.c.item_id)
    ):
        members[shipment_id].append(item_id)
    plans: dict[int, Allocation] = {}
    results = []
    for shipment in shipments:
        if shipment not in changeable:
            results.append(ShipmentResult(shipment.id, False, SHIPMENT_NOT_AVAILABLE,
                                          f"shipment {shipment_public_id(shipment.id)} is already with its lab"))
            continue
        lines = [BasketLine(items_by_id[i].sku, items_by_id[i].copies) for i in members[shipment.id]]
        try:
            plans[shipment.id] = allocate(catalog, lines, country, method, order.currency)
            results.append(ShipmentResult(shipment.id, True))
        except NotAllocatable:
            results.append(ShipmentResult(shipment.id, False, SHIPMENT_UPDATE_FAILED,
                                          f"no lab can send shipment {shipment_public_id(shipment.id)}'s items "
                                          f"to {country} by {method}"))
    if not plans:
        return ActionResult(Outcome.FAILED_TO_UPDATE, results)
    for shipment_id, plan in plans.items():
        _apply(session, order.id, shipment_id, members[shipment_id], plan)
    outcome = Outcome.UPDATED if all(r.successful for r in results) else Outcome.PARTIALLY_UPDATED
    return ActionResult(outcome, results)


def _apply(session: Session, order_id: int, shipment_id: int, item_ids: list[int], plan: Allocation) -> None:
    """Give a shipment's items the labs and rate of `plan`, in place where possible, and re-price."""
    charges = dict(session.execute(select(charges_t.c.charge_type, charges_t.c.id).where(
        charges_t.c.order_id == order_id, charges_t.c.charge_type.in_((CHARGE_ITEM, CHARGE_SHIPPING)))).all())
    next_position = session.execute(select(func.max(shipments_t.c.position))
                                    .where(shipments_t.c.order_id == order_id)).scalar_one() + 1
    for index, group in enumerate(plan.shipments):
        values = {"lab_code": group.lab.code, "lab_country_code": group.lab.country_code,
                  "shipping_method": plan.method, "carrier": group.rate.carrier, "service": group.rate.service,
                  "tracked": group.rate.tracked}
        group_items = [item_ids[p] for p in group.positions]
        if index == 0:
            target = shipment_id
            session.execute(update(shipments_t).where(shipments_t.c.id == shipment_id).values(**values))
        else:  # the items no longer fit one lab: the others go in a new shipment
            target = session.execute(insert(shipments_t).returning(shipments_t.c.id).values(
                order_id=order_id, position=next_position, status=SHIPMENT_PROCESSING, lab_stage=LAB_ALLOCATED,
                tracking_number=None, tracking_url=None, dispatch_date=None, **values)).scalar_one()
            next_position += 1
            session.execute(update(shipment_items_t).where(shipment_items_t.c.shipment_id == shipment_id,
                                                           shipment_items_t.c.item_id.in_(group_items))
                            .values(shipment_id=target))
        if CHARGE_SHIPPING in charges:
            changed = session.execute(update(charge_items_t).where(
                charge_items_t.c.charge_id == charges[CHARGE_SHIPPING], charge_items_t.c.shipment_id == target,
            ).values(amount=group.cost)).rowcount
            if not changed:
                session.execute(insert(charge_items_t).values(
                    charge_id=charges[CHARGE_SHIPPING], item_id=None, shipment_id=target, amount=group.cost,
                    currency=plan.currency))
    if CHARGE_ITEM in charges:
        for line in plan.lines:
            session.execute(update(charge_items_t).where(
                charge_items_t.c.charge_id == charges[CHARGE_ITEM], charge_items_t.c.item_id == item_ids[line.position],
            ).values(amount=line.unit_cost * line.copies))
    for charge_id in charges.values():
        total = session.execute(select(func.coalesce(func.sum(charge_items_t.c.amount), 0))
                                .where(charge_items_t.c.charge_id == charge_id)).scalar_one()
        session.execute(update(charges_t).where(charges_t.c.id == charge_id).values(total_amount=total))


# --- metadata ------------------------------------------------------------------------------

def update_metadata(session: Session, owner: Owner, order_id: int, metadata_json: str) -> ActionResult:
    """Replaces the metadata wholesale; allowed in every stage (A-28)."""
    failures = FailureCollector()
    check_metadata(metadata_json, failures)
    failures.raise_if_any()
    _locked(session, owner, order_id)
    _touch(session, order_id, metadata_json=metadata_json)
    return ActionResult(Outcome.UPDATED)
