"""Orders that wait: a pause window that ends, and a payment to authorise before fulfilment."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer, announce
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import (
    ISSUE_REQUIRES_PAYMENT,
    STAGE_AWAITING_PAYMENT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    order_public_id,
)
from printwork.core.orders.progress import add_issue
from printwork.core.orders.renditions import order_changed
from printwork.core.orders.repository import issues_t, items_t, orders_t
from printwork.core.pricing.allocation import BasketLine, allocate
from printwork.core.pricing.money import money_string


def start_fulfilment(session: Session, order_id: int, catalog, public_base_url: str,
                     announcer: Announcer | None) -> bool:
    """An order leaves its pause window: into fulfilment, or first to payment authorisation.

    False if it was not on hold. The caller holds the order row (fence or its own update)."""
    order = session.execute(
        select(orders_t.c.stage, orders_t.c.merchant_id, orders_t.c.address_country_code, orders_t.c.shipping_method,
               Merchant.pays_per_order, Merchant.billing_currency)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id).where(orders_t.c.id == order_id)
    ).one()
    if order.stage != STAGE_ON_HOLD:
        return False
    now = utcnow()
    if order.pays_per_order:
        request_payment(session, order_id, catalog, order.address_country_code, order.shipping_method,
                        order.billing_currency, public_base_url)
        stage, submitted_at, due_at = STAGE_AWAITING_PAYMENT, None, None
    else:
        stage, submitted_at, due_at = STAGE_IN_PROGRESS, now, now
    session.execute(update(orders_t).where(orders_t.c.id == order_id).values(
        stage=stage, submitted_at=submitted_at, due_at=due_at, hold_until=None,
        version=orders_t.c.version + 1, updated_at=now))
    order_changed(session, order_id)
    announce(session, order_id, announcer)  # the documents call back when a pause window ends
    return True


def request_payment(session: Session, order_id: int, catalog, country: str, method: str, currency: str,
                    public_base_url: str) -> None:
    """Add the documented RequiresPaymentAuthorisation issue with what the order will cost."""
    url = f"{public_base_url}/payments/{order_public_id(order_id)}"
    total = _order_total(session, order_id, catalog, country, method, currency)
    add_issue(session, order_id, order_public_id(order_id), ISSUE_REQUIRES_PAYMENT,
               _payment_description(order_id, total, currency, url),
               authorisation_url=url, payment_amount=Decimal(total), payment_currency=currency)


def reprice_payment(session: Session, order_id: int, catalog) -> None:
    """The order's destination or method changed while it awaits payment: ask for the new total."""
    order = session.execute(
        select(orders_t.c.address_country_code, orders_t.c.shipping_method, Merchant.billing_currency)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id).where(orders_t.c.id == order_id)).one()
    currency = order.billing_currency
    total = _order_total(session, order_id, catalog, order.address_country_code, order.shipping_method, currency)
    for issue_id, url in session.execute(select(issues_t.c.id, issues_t.c.authorisation_url).where(
            issues_t.c.order_id == order_id, issues_t.c.error_code == ISSUE_REQUIRES_PAYMENT)).all():
        session.execute(update(issues_t).where(issues_t.c.id == issue_id).values(
            payment_amount=Decimal(total), payment_currency=currency,
            description=_payment_description(order_id, total, currency, url)))


def _order_total(session: Session, order_id: int, catalog, country: str, method: str, currency: str) -> str:
    lines = [BasketLine(r.sku, r.copies) for r in session.execute(
        select(items_t.c.sku, items_t.c.copies).where(items_t.c.order_id == order_id).order_by(items_t.c.position))]
    allocation = allocate(catalog, lines, country, method, currency)
    return money_string(allocation.items_total + allocation.shipping_total, currency)


def _payment_description(order_id: int, total: str, currency: str, url: str) -> str:
    return (f"Payment authorisation required for '{order_public_id(order_id)}' ({total}{currency}) please use the "
            f"following URL to make payment: {url}")


def authorise_payment(session: Session, order_id: int) -> bool:
    """The payment is authorised: the order goes into fulfilment. False if it was not waiting."""
    now = utcnow()
    changed = session.execute(update(orders_t).where(
        orders_t.c.id == order_id, orders_t.c.stage == STAGE_AWAITING_PAYMENT,
    ).values(stage=STAGE_IN_PROGRESS, submitted_at=now, due_at=now, version=orders_t.c.version + 1,
             updated_at=now)).rowcount
    if changed:
        session.execute(delete(issues_t).where(issues_t.c.order_id == order_id,
                                               issues_t.c.error_code == ISSUE_REQUIRES_PAYMENT))
        order_changed(session, order_id)
    return bool(changed)
