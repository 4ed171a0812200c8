"""Orders as plain data: what a merchant asks for (NewOrder) and what an order is (OrderView)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SIZINGS = ("fillPrintArea", "fitPrintArea", "stretchToPrintArea")
SIZINGS_BY_LOWER = {s.lower(): s for s in SIZINGS}
DEFAULT_SIZING = "fillPrintArea"
METADATA_MAX_CHARS = 2000

# Stages the wire shows, plus the waiting stages the list filter names (draft, awaitingPayment).
class Outcome(StrEnum):
    """What became of a request to place or change an order; each face names these its own way."""

    CREATED = "created"
    CREATED_WITH_ISSUES = "created_with_issues"
    ALREADY_EXISTS = "already_exists"  # the idempotency key's order, placed before
    ON_HOLD = "on_hold"  # placed, and waiting out the merchant's pause window
    CANCELLED = "cancelled"
    FAILED_TO_CANCEL = "failed_to_cancel"
    ACTION_NOT_AVAILABLE = "action_not_available"
    UPDATED = "updated"
    PARTIALLY_UPDATED = "partially_updated"
    FAILED_TO_UPDATE = "failed_to_update"
    SUBMITTED = "submitted"  # a draft entered fulfilment (or its pause window, or a payment wait)


STAGE_IN_PROGRESS = "InProgress"
STAGE_COMPLETE = "Complete"
STAGE_CANCELLED = "Cancelled"
STAGE_ON_HOLD = "OnHold"
STAGE_AWAITING_PAYMENT = "AwaitingPayment"
# Not submitted yet: recipient, items and images can still change; only downloads run.
STAGE_DRAFT = "Draft"

DETAIL_NOT_STARTED = "NotStarted"

# What an order's issues are about; each face names them its own way (v4: `order.items.ItemUnavailable`).
ISSUE_ITEM_UNAVAILABLE = "item_unavailable"
ISSUE_NOT_DOWNLOADED = "asset_not_downloaded"
ISSUE_FAILED_TO_DOWNLOAD = "asset_download_failed"
ISSUE_IMAGE_UNUSABLE = "asset_unusable"  # downloaded whole, and no printable image
ISSUE_REQUIRES_PAYMENT = "payment_authorisation_required"
ISSUE_NOT_ALLOCATABLE = "item_not_allocatable"
ISSUE_REJECTED_BY_LAB = "shipment_rejected_by_lab"


@dataclass(frozen=True)
class Cost:
    amount: str  # a canonical decimal string
    currency: str


@dataclass
class Address:
    line1: str
    line2: str | None
    postal_or_zip_code: str
    country_code: str
    town_or_city: str
    state_or_county: str | None


@dataclass
class Recipient:
    name: str
    email: str | None
    phone_number: str | None
    address: Address


@dataclass
class NewAsset:
    print_area: str
    url: str
    md5_hash: str | None


@dataclass
class NewItem:
    merchant_reference: str | None
    sku: str
    copies: int
    sizing: str
    attributes: dict[str, str]
    recipient_cost: Cost | None
    assets: list[NewAsset]


@dataclass
class NewOrder:
    merchant_reference: str | None
    shipping_method: str
    callback_url: str | None
    idempotency_key: str | None
    recipient: Recipient
    items: list[NewItem]
    packing_slip_url: str | None
    metadata_json: str | None  # compact JSON text of the merchant's metadata object


@dataclass
class AssetView:
    id: int
    print_area: str
    url: str
    md5_hash: str | None
    status: str
    thumbnail_url: str | None


@dataclass
class ItemView:
    id: int
    status: str
    merchant_reference: str | None
    sku: str
    copies: int
    sizing: str
    attributes_json: str
    recipient_cost: Cost | None
    assets: list[AssetView] = field(default_factory=list)


@dataclass
class IssueView:
    object_id: str
    error_code: str
    description: str
    authorisation_url: str | None = None
    payment: Cost | None = None  # what must be authorised (RequiresPaymentAuthorisation only)


@dataclass
class ShipmentView:
    id: int
    status: str
    carrier: str
    service: str
    tracking_number: str | None
    tracking_url: str | None
    dispatch_date: datetime | None
    item_ids: list[int]
    lab_country_code: str
    lab_code: str
    lab_stage: str | None = None  # where the lab is with it (process/state.py LAB_*)
    tracked: bool = False


@dataclass
class ChargeItemView:
    id: int
    shipment_id: int | None
    item_id: int | None
    cost: Cost


@dataclass
class ChargeView:
    id: int
    charge_type: str
    invoice_number: str | None
    total: Cost
    items: list[ChargeItemView]


# Who pays for an order (the Pwinty faces' `payment`).
PAYMENT_INVOICE_ME = "invoice_me"
PAYMENT_INVOICE_RECIPIENT = "invoice_recipient"
PAYMENT_OPTIONS = (PAYMENT_INVOICE_ME, PAYMENT_INVOICE_RECIPIENT)


@dataclass(frozen=True)
class DraftPrice:
    items: Cost
    shipping: Cost
    per_item: tuple[Cost, ...] = ()  # by item position


@dataclass
class StatusDetails:
    download_assets: str
    print_ready_assets_prepared: str
    allocate_production_location: str
    in_production: str
    shipping: str


@dataclass
class OrderView:
    id: int
    created: datetime
    last_updated: datetime
    version: int
    callback_url: str | None
    merchant_reference: str | None
    shipping_method: str
    idempotency_key: str | None
    stage: str
    details: StatusDetails
    issues: list[IssueView]
    recipient: Recipient
    items: list[ItemView]
    packing_slip_url: str | None
    packing_slip_status: str | None
    metadata_json: str | None
    shipments: list[ShipmentView] = field(default_factory=list)
    charges: list[ChargeView] = field(default_factory=list)
    payment_option: str | None = None  # PAYMENT_* of drafts' faces; None: the merchant is invoiced
    draft_price: DraftPrice | None = None  # what a draft would cost as it stands (None: cannot say yet)


@dataclass(frozen=True)
class OrderListQuery:
    top: int = 10
    skip: int = 0
    created_from: datetime | None = None
    created_to: datetime | None = None
    stages: tuple[str, ...] | None = None  # any of these
    order_ids: tuple[int, ...] | None = None
    merchant_references: tuple[str, ...] | None = None


def order_public_id(order_id: int) -> str:
    return f"ord_{order_id}"


def item_public_id(item_id: int) -> str:
    return f"ori_{item_id}"


def shipment_public_id(shipment_id: int) -> str:
    return f"shp_{shipment_id}"


def charge_public_id(charge_id: int) -> str:
    return f"chg_{charge_id}"


def charge_item_public_id(charge_item_id: int) -> str:
    return f"chi_{charge_item_id}"


def asset_public_id(asset_id: int) -> str:
    return f"ast_{asset_id}"


def parse_order_id(value: str) -> int | None:
    """`ord_123` -> 123; anything else -> None. Prefixes are matched case-insensitively."""
    if len(value) > 4 and value[:4].lower() == "ord_" and value[4:].isdigit() and len(value) <= 24:
        number = int(value[4:])
        return number if 0 < number < 2**63 else None
    return None
