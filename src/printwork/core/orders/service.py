"""Placing and reading orders. Services flush; the boundary that called them commits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

import orjson
from sqlalchemy.orm import Session

from printwork.core.catalog.domain import Catalog
from printwork.core.errors import EntityNotFound, FailureCollector
from printwork.core.merchants.service import Owner, utcnow
from printwork.core.orders import repository
from printwork.core.orders.domain import (
    DETAIL_NOT_STARTED,
    ISSUE_ITEM_UNAVAILABLE,
    STAGE_AWAITING_PAYMENT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    AssetView,
    IssueView,
    ItemView,
    NewOrder,
    OrderListQuery,
    OrderView,
    Outcome,
    StatusDetails,
    item_public_id,
)
from printwork.core.orders.rules import check_new_order, unavailable_item_positions
from printwork.core.orders.payment import request_payment
from printwork.db import Database, Writes

ITEM_NOT_YET_DOWNLOADED = "NotYetDownloaded"
ASSET_IN_PROGRESS = "InProgress"

Renderer = Callable[[OrderView], bytes]


@dataclass(frozen=True)
class PlacedOrder:
    outcome: Outcome
    order_id: int
    body: bytes  # the order rendered by the caller's renderer


def place_order(
    writes: Writes,
    owner: Owner,
    order: NewOrder,
    catalog: Catalog,
    failures: FailureCollector,
    render: Renderer,
    rendition_format: str,
    public_base_url: str = "",
    sandbox_fault: str | None = None,
    *,
    face: str,
    trace_parent: str | None = None,
) -> PlacedOrder:
    """Return the order already stored under the idempotency key, else validate and store this one.

    The key is looked up first, so a retry is answered with the stored order even if the
    catalogue has changed since or the retried body differs (INVENTORY A-30).
    `failures` may already hold the surface's own shape failures; all are raised together.
    `face` names the API face the order came through; its callbacks are rendered by that face.
    `trace_parent` is the trace of the request placing it, under which its jobs log.
    """
    if order.idempotency_key is not None:
        existing = repository.find_by_idempotency_key(writes.raw, owner, order.idempotency_key)
        if existing is not None:
            return _already_exists(writes, owner, existing, render, rendition_format)
    check_new_order(order, catalog, failures)
    failures.raise_if_any()
    # Only a racing idempotency key can make the insert fail in a way we answer; the caller's
    # own savepoint covers every other failure.
    guard = writes.raw.savepoint() if order.idempotency_key is not None else nullcontext()
    try:
        with guard:
            view = _insert(writes, owner, order, catalog, public_base_url, sandbox_fault, face, trace_parent)
            body = render(view)
            repository.store_rendition(writes.raw, view.id, rendition_format, view.version, body)
    except writes.integrity_error:
        # Another process stored the same idempotency key between our look-up and insert.
        existing = (
            repository.find_by_idempotency_key(writes.raw, owner, order.idempotency_key)
            if order.idempotency_key is not None
            else None
        )
        if existing is None:
            raise
        return _already_exists(writes, owner, existing, render, rendition_format)
    if view.stage == STAGE_ON_HOLD:
        return PlacedOrder(Outcome.ON_HOLD, view.id, body)
    if view.stage == STAGE_IN_PROGRESS:
        writes.due_orders.append(view.id)
    return PlacedOrder(Outcome.CREATED_WITH_ISSUES if view.issues else Outcome.CREATED, view.id, body)


def _already_exists(writes: Writes, owner: Owner, order_id: int, render: Renderer, fmt: str) -> PlacedOrder:
    return PlacedOrder(Outcome.ALREADY_EXISTS, order_id, rendered_orders(writes.session, owner, [order_id], render, fmt)[order_id])


def _insert(
    writes: Writes, owner: Owner, order: NewOrder, catalog: Catalog, public_base_url: str, sandbox_fault: str | None,
    face: str, trace_parent: str | None,
) -> OrderView:
    now = utcnow()
    recipient, address = order.recipient, order.recipient.address
    details = StatusDetails(*(DETAIL_NOT_STARTED,) * 5)
    # Read once per merchant per transaction: a group-committed batch is mostly one merchant's.
    terms = writes.memo.get(("merchant-terms", owner.merchant_id))
    if terms is None:
        terms = writes.memo[("merchant-terms", owner.merchant_id)] = repository.merchant_terms(
            writes.raw, owner.merchant_id)
    hold_until = None
    if terms.pause_indefinite or terms.pause_seconds:
        stage = STAGE_ON_HOLD
        if not terms.pause_indefinite:
            hold_until = now + timedelta(seconds=terms.pause_seconds)
        due_at, submitted_at = hold_until, None
    elif terms.pays_per_order:
        stage, due_at, submitted_at = STAGE_AWAITING_PAYMENT, None, None
    else:
        stage, due_at, submitted_at = STAGE_IN_PROGRESS, now, now
    order_id = repository.insert_order(
        writes.raw,
        {
            "merchant_id": owner.merchant_id,
            "environment": owner.environment,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "merchant_reference": order.merchant_reference,
            "shipping_method": order.shipping_method,
            "idempotency_key": order.idempotency_key,
            "callback_url": order.callback_url,
            "stage": stage,
            "download_assets": details.download_assets,
            "print_ready_assets_prepared": details.print_ready_assets_prepared,
            "allocate_production_location": details.allocate_production_location,
            "in_production": details.in_production,
            "shipping": details.shipping,
            "recipient_name": recipient.name,
            "recipient_email": recipient.email,
            "recipient_phone": recipient.phone_number,
            "address_line1": address.line1,
            "address_line2": address.line2,
            "address_postal_code": address.postal_or_zip_code,
            "address_country_code": address.country_code.upper(),
            "address_town": address.town_or_city,
            "address_state": address.state_or_county,
            "packing_slip_url": order.packing_slip_url,
            "packing_slip_status": "NotYetDownloaded" if order.packing_slip_url else None,
            "metadata_json": order.metadata_json,
            "due_at": due_at,
            "lease_token": None,
            "lease_expires_at": None,
            "hold_until": hold_until,
            "submitted_at": submitted_at,
            "files_purged_at": None,
            "sandbox_fault": sandbox_fault,
            "sandbox_hurry": False,
            # What callbacks compare later changes with (core/callbacks/events.py).
            "announced_json": orjson.dumps({"stage": stage, "downloads": DETAIL_NOT_STARTED, "shipments": {}}).decode(),
            "face": face,
            "trace_parent": trace_parent,
            "payment_option": None,
            "draft_price_json": None,
        },
    )
    item_rows = [
        {
            "order_id": order_id,
            "position": position,
            "merchant_reference": item.merchant_reference,
            "sku": item.sku,
            "copies": item.copies,
            "sizing": item.sizing,
            "attributes_json": orjson.dumps(item.attributes).decode(),
            "recipient_cost_amount": item.recipient_cost.amount if item.recipient_cost else None,
            "recipient_cost_currency": item.recipient_cost.currency.upper() if item.recipient_cost else None,
            "status": ITEM_NOT_YET_DOWNLOADED,
        }
        for position, item in enumerate(order.items)
    ]
    item_ids = [repository.insert_item(writes.raw, row) for row in item_rows]
    asset_rows = [
        {
            "item_id": item_id,
            "order_id": order_id,
            "position": position,
            "print_area": asset.print_area,
            "url": asset.url,
            "md5_hash": asset.md5_hash,
            "status": ASSET_IN_PROGRESS,
            "thumbnail_url": None,
            **repository.NEW_ASSET_DEFAULTS,
        }
        for item_id, item in zip(item_ids, order.items)
        for position, asset in enumerate(item.assets)
    ]
    asset_ids = iter([repository.insert_asset(writes.raw, row) for row in asset_rows])
    issues = [
        IssueView(
            object_id=item_public_id(item_ids[i]),
            error_code=ISSUE_ITEM_UNAVAILABLE,
            description=f"SKU '{order.items[i].sku}' on item '{item_public_id(item_ids[i])}' is currently unavailable.",
        )
        for i in unavailable_item_positions(order, catalog)
    ]
    for issue in issues:
        repository.insert_issue(
            writes.raw,
            {"order_id": order_id, "object_id": issue.object_id, "error_code": issue.error_code,
             "description": issue.description, "created_at": now, **repository.NEW_ISSUE_DEFAULTS},
        )
    items = []
    for item_id, row, item in zip(item_ids, item_rows, order.items):
        items.append(
            ItemView(
                id=item_id,
                status=row["status"],
                merchant_reference=item.merchant_reference,
                sku=item.sku,
                copies=item.copies,
                sizing=item.sizing,
                attributes_json=row["attributes_json"],
                recipient_cost=item.recipient_cost,
                assets=[
                    AssetView(next(asset_ids), a.print_area, a.url, a.md5_hash, ASSET_IN_PROGRESS, None) for a in item.assets
                ],
            )
        )
    if stage == STAGE_AWAITING_PAYMENT:
        request_payment(writes.session, order_id, catalog, address.country_code.upper(), order.shipping_method,
                        terms.billing_currency, public_base_url)
        return repository.load_order_views(writes.session, [order_id])[order_id]
    return OrderView(
        id=order_id,
        created=now,
        last_updated=now,
        version=1,
        callback_url=order.callback_url,
        merchant_reference=order.merchant_reference,
        shipping_method=order.shipping_method,
        idempotency_key=order.idempotency_key,
        stage=stage,
        details=details,
        issues=issues,
        recipient=order.recipient,
        items=items,
        packing_slip_url=order.packing_slip_url,
        packing_slip_status="NotYetDownloaded" if order.packing_slip_url else None,
        metadata_json=order.metadata_json,
    )


@dataclass(frozen=True)
class Rendition:
    """An order a read had to render itself (no current rendition was stored): worth keeping."""

    order_id: int
    version: int
    body: bytes


def rendered_orders(session: Session, owner: Owner, order_ids: list[int], render: Renderer, fmt: str,
                    made: list[Rendition] | None = None) -> dict[int, bytes]:
    """The owner's orders among `order_ids`, rendered; stale or missing renditions are rendered
    afresh (and added to `made`, for the caller to `keep`)."""
    cached = repository.renditions_for(session, owner, order_ids, fmt)
    stale = [order_id for order_id, body in cached.items() if body is None]
    if stale:
        for order_id, view in repository.load_order_views(session, stale).items():
            cached[order_id] = body = render(view)
            if made is not None:
                made.append(Rendition(order_id, view.version, body))
    return cached  # type: ignore[return-value]


def keep(database: Database, fmt: str, made: list[Rendition]) -> None:
    """Store what reads rendered, in a transaction of its own; never over a newer rendition.

    Every change stores its renditions as it commits, so reads render only orders whose
    rendition was never made in this format (e.g. after an upgrade that changed the format)."""
    with database.transaction() as session:
        repository.upsert_renditions(session, [{"order_id": r.order_id, "format": fmt, "version": r.version, "body": r.body}
                                   for r in made])


def get_order(database: Database, owner: Owner, order_id: int, render: Renderer, fmt: str,
              made: list[Rendition] | None = None) -> bytes:
    exists, body = repository.fast_rendition(database, owner, order_id, fmt)
    if not exists:
        raise EntityNotFound(f"order {order_id} not found")
    if body is None:
        with database.read() as session:
            body = rendered_orders(session, owner, [order_id], render, fmt, made).get(order_id)
        if body is None:  # deleted between the two reads
            raise EntityNotFound(f"order {order_id} not found")
    return body


def list_orders(
    database: Database, owner: Owner, query: OrderListQuery, render: Renderer, fmt: str,
    made: list[Rendition] | None = None,
) -> tuple[list[bytes], bool]:
    """One page of the owner's orders, newest first, and whether another page follows."""
    page = repository.fast_rendition_page(database, owner, query, fmt)
    has_more = len(page) > query.top
    page = page[: query.top]
    stale = [order_id for order_id, body in page if body is None]
    fresh: dict[int, bytes] = {}
    if stale:
        with database.read() as session:
            fresh = rendered_orders(session, owner, stale, render, fmt, made)
    return [body if body is not None else fresh[order_id] for order_id, body in page if body is not None or order_id in fresh], has_more
