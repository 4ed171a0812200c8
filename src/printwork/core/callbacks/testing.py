"""Test callbacks: a signed sample of every event a merchant's receiver can get, sent now.

The samples carry a made-up order (`ord_0`, merchant reference `printwork-test-callback`) in the
state each event announces, never one of the merchant's real orders: a receiver that acts on a
test "Complete" must not mark a real order complete. They are signed with the merchant's own
secret and sent once each, outside the delivery log and its retries; the answers come back to
the person who asked, so they can see what their receiver did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwork.core.assets.download import DownloadLimits, guarded_client
from printwork.core.callbacks.delivery import Sent, post_signed
from printwork.core.callbacks.events import (
    DOWNLOADS_CHANGED, SHIPMENT_CHANGED, STAGE_CHANGED, CallbackFace, EventContext, OrderChange, new_event_id)
from printwork.core.errors import CoreError
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import ensure_signing_secret, utcnow
from printwork.core.orders.domain import (
    ISSUE_FAILED_TO_DOWNLOAD,
    STAGE_CANCELLED, STAGE_COMPLETE, STAGE_IN_PROGRESS, Address, AssetView, ChargeItemView, ChargeView, Cost,
    IssueView, ItemView, OrderView, Recipient, ShipmentView, StatusDetails, shipment_public_id)
from printwork.core.orders.progress import (
    ASSET_COMPLETE, ASSET_ERROR, ASSET_IN_PROGRESS, COMPLETE, ERROR, IN_PROGRESS, ITEM_NOT_YET_DOWNLOADED, ITEM_OK,
    NOT_STARTED, SHIPMENT_CANCELLED, SHIPMENT_PROCESSING, SHIPMENT_SHIPPED)

SAMPLE_ORDER_ID = 0
SAMPLE_REFERENCE = "printwork-test-callback"


@dataclass(frozen=True)
class TestDelivery:
    event_type: str
    event_id: str
    url: str
    sent: Sent


@dataclass(frozen=True)
class CallbackTarget:
    merchant_id: int
    url: str
    secret: str


def callback_target(session: Session, merchant_name: str, url: str | None) -> CallbackTarget:
    """Where the merchant's test callbacks go (`url`, else its default callback URL) and their secret."""
    merchant = session.execute(select(Merchant.id, Merchant.default_callback_url)
                               .where(Merchant.name == merchant_name)).one_or_none()
    if merchant is None:
        raise CoreError(f"no merchant named {merchant_name!r}")
    target = url or merchant.default_callback_url
    if not target:
        raise CoreError(f"{merchant_name} has no default callback URL: give one with --url, or set it with "
                        "`printwork merchants settings NAME --callback-url URL`")
    if not target.lower().startswith(("http://", "https://")):
        raise CoreError(f"{target!r} is not an http(s) URL")
    return CallbackTarget(merchant.id, target, ensure_signing_secret(session, merchant.id))


def _sample_order(at: datetime) -> OrderView:
    """An order just placed; the samples below move it along."""
    return OrderView(
        id=SAMPLE_ORDER_ID, created=at - timedelta(hours=2), last_updated=at, version=1, callback_url=None,
        merchant_reference=SAMPLE_REFERENCE, shipping_method="Standard", idempotency_key=None,
        stage=STAGE_IN_PROGRESS,
        details=StatusDetails(IN_PROGRESS, NOT_STARTED, NOT_STARTED, NOT_STARTED, NOT_STARTED),
        issues=[],
        recipient=Recipient("Sample Recipient", None, None,
                            Address("1 Sample Street", None, "W1A 1AA", "GB", "London", None)),
        items=[ItemView(0, ITEM_NOT_YET_DOWNLOADED, "sample item", "GLOBAL-PHO-4X6", 1, "fillPrintArea", "{}", None,
                        [AssetView(0, "default", "https://example.com/sample.jpg", None, ASSET_IN_PROGRESS, None)])],
        packing_slip_url=None, packing_slip_status=None, metadata_json='{"printworkTest":true}',
    )


def _with_item(order: OrderView, item_status: str, asset_status: str) -> list[ItemView]:
    item = order.items[0]
    return [replace(item, status=item_status, assets=[replace(item.assets[0], status=asset_status)])]


def sample_orders(face: CallbackFace, at: datetime) -> list[tuple[OrderChange, OrderView]]:
    """(the change, the order as its event shows it) for every kind of change announce() announces."""
    placed = _sample_order(at)
    downloaded = replace(placed, details=StatusDetails(COMPLETE, COMPLETE, NOT_STARTED, NOT_STARTED, NOT_STARTED),
                         items=_with_item(placed, ITEM_OK, ASSET_COMPLETE))
    failed = replace(placed, details=StatusDetails(ERROR, NOT_STARTED, NOT_STARTED, NOT_STARTED, NOT_STARTED),
                     items=_with_item(placed, ITEM_NOT_YET_DOWNLOADED, ASSET_ERROR),
                     issues=[IssueView("ori_0", ISSUE_FAILED_TO_DOWNLOAD,
                                       "The asset could not be downloaded (a sample issue)")])
    shipment = ShipmentView(0, SHIPMENT_PROCESSING, "Royal Mail", "Tracked 48", None, None, None, [0], "GB", "sample")
    charges = [ChargeView(0, "Item", None, Cost("6.50", "GBP"), [ChargeItemView(0, None, 0, Cost("3.50", "GBP")),
                                                                  ChargeItemView(1, 0, None, Cost("3.00", "GBP"))])]
    allocated = replace(downloaded, details=StatusDetails(COMPLETE, COMPLETE, COMPLETE, IN_PROGRESS, NOT_STARTED),
                        shipments=[shipment], charges=charges)
    shipped_shipment = replace(shipment, status=SHIPMENT_SHIPPED, tracking_number="SAMPLE0000000GB",
                               tracking_url="https://example.com/track/SAMPLE0000000GB", dispatch_date=at)
    complete = replace(allocated, stage=STAGE_COMPLETE,
                       details=StatusDetails(COMPLETE, COMPLETE, COMPLETE, COMPLETE, COMPLETE),
                       shipments=[shipped_shipment])
    cancelled = replace(allocated, stage=STAGE_CANCELLED, shipments=[replace(shipment, status=SHIPMENT_CANCELLED)])
    sample_shipment = shipment_public_id(shipment.id)
    samples = [
        (OrderChange(STAGE_CHANGED, face.shown_stage(STAGE_IN_PROGRESS)), placed),
        (OrderChange(DOWNLOADS_CHANGED, COMPLETE), downloaded),
        (OrderChange(DOWNLOADS_CHANGED, ERROR), failed),
        (OrderChange(SHIPMENT_CHANGED, SHIPMENT_PROCESSING, sample_shipment), allocated),
        (OrderChange(SHIPMENT_CHANGED, SHIPMENT_SHIPPED, sample_shipment), replace(allocated, shipments=[shipped_shipment])),
        (OrderChange(STAGE_CHANGED, face.shown_stage(STAGE_COMPLETE)), complete),
        (OrderChange(SHIPMENT_CHANGED, SHIPMENT_CANCELLED, sample_shipment), cancelled),
        (OrderChange(STAGE_CHANGED, face.shown_stage(STAGE_CANCELLED)), cancelled),
    ]
    return samples


def send_test_callbacks(target: CallbackTarget, face: CallbackFace, render_order: Callable[[OrderView], bytes], *,
                        allow_private_urls: bool, timeout: float, environment: str = "sandbox") -> list[TestDelivery]:
    """Send every sample `face` announces, one after another (the order a receiver would hear them in)."""
    limits = DownloadLimits(connect_timeout=min(timeout, 5.0), read_timeout=timeout, deadline=timeout)
    at = utcnow()
    deliveries = []
    with guarded_client(limits, allow_private=allow_private_urls, max_connections=1) as client:
        for change, order in sample_orders(face, at):
            event_id = new_event_id()
            event = face.render_event(change, EventContext(event_id, at, order.id, environment, render_order(order)))
            if event is None:
                continue
            sent = post_signed(client, target.url, event_id, event.body, target.secret, timeout)
            deliveries.append(TestDelivery(event.event_type, event_id, target.url, sent))
    return deliveries
