"""What the dashboard shows of a merchant's orders: searching them, and one order in full.

Everything here reads only the owner's orders (one merchant, one environment); an order id of
anybody else's is EntityNotFound, exactly as through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from printwork.core.callbacks.service import EventView, deliveries
from printwork.core.catalog.domain import Catalog
from printwork.core.merchants.service import Owner
from printwork.core.orders.domain import OrderView, shipment_public_id
from printwork.core.orders.models import Order, OrderAsset, OrderHistory, OrderIssue, OrderItem, Shipment
from printwork.core.orders.repository import load_order_views, owned_order_id

PAGE_SIZE = 25
orders_t = Order.__table__


@dataclass(frozen=True)
class OrderSearch:
    stage: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    merchant_reference: str | None = None  # a prefix
    order_id: int | None = None
    face: str | None = None
    page: int = 1


@dataclass(frozen=True)
class OrderLine:
    id: int
    created_at: datetime
    stage: str
    merchant_reference: str | None
    recipient_name: str
    country_code: str
    shipping_method: str
    face: str


@dataclass(frozen=True)
class OrderPage:
    lines: list[OrderLine]
    page: int
    has_more: bool


def search_orders(session: Session, owner: Owner, search: OrderSearch) -> OrderPage:
    """A page of the owner's orders matching `search`, newest first."""
    query = select(orders_t.c.id, orders_t.c.created_at, orders_t.c.stage, orders_t.c.merchant_reference,
                   orders_t.c.recipient_name, orders_t.c.address_country_code, orders_t.c.shipping_method,
                   orders_t.c.face).where(orders_t.c.merchant_id == owner.merchant_id,
                                          orders_t.c.environment == owner.environment)
    if search.order_id is not None:
        query = query.where(orders_t.c.id == search.order_id)
    if search.stage:
        query = query.where(orders_t.c.stage == search.stage)
    if search.face:
        query = query.where(orders_t.c.face == search.face)
    if search.merchant_reference:
        escaped = search.merchant_reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(orders_t.c.merchant_reference.like(escaped + "%", escape="\\"))
    if search.created_from is not None:
        query = query.where(orders_t.c.created_at >= search.created_from)
    if search.created_to is not None:
        query = query.where(orders_t.c.created_at < search.created_to)
    page = max(1, search.page)
    rows = session.execute(query.order_by(orders_t.c.id.desc()).offset((page - 1) * PAGE_SIZE)
                           .limit(PAGE_SIZE + 1)).all()
    lines = [OrderLine(*row) for row in rows[:PAGE_SIZE]]
    return OrderPage(lines, page, len(rows) > PAGE_SIZE)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # created, stage, downloads, shipment, issue, lab, callback
    text: str
    status_code: int | None = None  # callbacks: the receiver's answer
    ok: bool | None = None


@dataclass(frozen=True)
class AssetPanel:
    """One image of an item: what was sent, what will be printed, and its thumbnail."""

    id: int
    item_id: int
    print_area: str
    status: str
    sizing: str
    url: str
    original_width: int | None
    original_height: int | None
    original_format: str | None
    print_width: int | None  # the print area's size in pixels, from the catalogue
    print_height: int | None
    has_original: bool
    has_print_file: bool
    has_thumbnail: bool


@dataclass(frozen=True)
class OrderDetail:
    view: OrderView
    face: str
    environment: str
    timeline: list[TimelineEntry]
    panels: dict[int, list[AssetPanel]]  # by item id
    deliveries: list[EventView]


def order_detail(session: Session, owner: Owner, order_id: int, catalog: Catalog) -> OrderDetail:
    owned_order_id(session, owner, order_id)
    view = load_order_views(session, [order_id])[order_id]
    face, environment, created_at = session.execute(
        select(orders_t.c.face, orders_t.c.environment, orders_t.c.created_at).where(orders_t.c.id == order_id)).one()
    sent = deliveries(session, owner, order_id)
    return OrderDetail(view, face, environment, _timeline(session, order_id, created_at, sent),
                       _panels(session, order_id, catalog), sent)


def _timeline(session: Session, order_id: int, created_at: datetime, sent: list[EventView]) -> list[TimelineEntry]:
    entries = [TimelineEntry(created_at, "created", "Order received")]
    for row in session.execute(select(OrderHistory).where(OrderHistory.order_id == order_id)).scalars():
        if row.kind == "shipment":
            text = f"Shipment {row.shipment_id}: {row.value}"
        elif row.kind == "downloads":
            text = f"Image downloads: {row.value}"
        else:
            text = f"Stage: {row.value}"
        entries.append(TimelineEntry(row.occurred_at, row.kind, text))
    for issue in session.execute(select(OrderIssue).where(OrderIssue.order_id == order_id)).scalars():
        entries.append(TimelineEntry(issue.created_at, "issue", f"Issue {issue.error_code}: {issue.description}"))
    for shipment in session.execute(select(Shipment).where(Shipment.order_id == order_id)).scalars():
        public_id = shipment_public_id(shipment.id)
        if shipment.submitted_at is not None:
            entries.append(TimelineEntry(shipment.submitted_at, "lab", f"{public_id} sent to lab {shipment.lab_code}"))
        if shipment.production_started_at is not None:
            entries.append(TimelineEntry(shipment.production_started_at, "lab",
                                         f"{public_id} in production at {shipment.lab_code}"))
        if shipment.dispatch_date is not None:
            tracking = f", tracking {shipment.tracking_number}" if shipment.tracking_number else ""
            entries.append(TimelineEntry(shipment.dispatch_date, "lab",
                                         f"{public_id} shipped by {shipment.carrier}{tracking}"))
    for event in sent:
        for attempt in event.history:
            ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
            answer = str(attempt.status_code) if attempt.status_code is not None else (attempt.error or "no answer")
            entries.append(TimelineEntry(attempt.attempted_at, "callback", f"Callback {event.event_type}: {answer}",
                                         attempt.status_code, ok))
    entries.sort(key=lambda entry: entry.at)
    return entries


def _panels(session: Session, order_id: int, catalog: Catalog) -> dict[int, list[AssetPanel]]:
    purged = session.execute(select(orders_t.c.files_purged_at).where(orders_t.c.id == order_id)).scalar_one() \
        is not None
    items = {row.id: row for row in session.execute(
        select(OrderItem.id, OrderItem.sku, OrderItem.sizing, OrderItem.attributes_json)
        .where(OrderItem.order_id == order_id))}
    panels: dict[int, list[AssetPanel]] = {}
    for asset in session.execute(select(OrderAsset).where(OrderAsset.order_id == order_id)
                                 .order_by(OrderAsset.item_id, OrderAsset.position)).scalars():
        item = items[asset.item_id]
        size = _print_area_size(catalog, item.sku, item.attributes_json, asset.print_area)
        panels.setdefault(asset.item_id, []).append(AssetPanel(
            asset.id, asset.item_id, asset.print_area, asset.status, item.sizing, asset.url, asset.original_width,
            asset.original_height, asset.original_format, size[0] if size else None, size[1] if size else None,
            has_original=asset.downloaded_at is not None and not purged,
            has_print_file=asset.prepared_at is not None and not purged,
            has_thumbnail=asset.thumbnail_token is not None))
    return panels


def _print_area_size(catalog: Catalog, sku: str, attributes_json: str, print_area: str) -> tuple[int, int] | None:
    product = catalog.product(sku)
    if product is None:
        return None
    variant = product.variant_for(orjson.loads(attributes_json or "{}"))
    if variant is None:
        return None
    size = variant.print_area_sizes.get(print_area)
    return (size.horizontal, size.vertical) if size else None


def orders_count(session: Session, owner: Owner) -> int:
    return session.execute(select(func.count()).select_from(orders_t).where(
        orders_t.c.merchant_id == owner.merchant_id, orders_t.c.environment == owner.environment)).scalar_one()
