"""Typed models of the Prodigi Print API v4: what it answers, and what requests carry.

Answers are parsed leniently: a field the service adds later is ignored (every model keeps the
JSON it came from in `raw`), and enum values it adds later are kept as they are instead of
failing. Money is `Decimal`, timestamps are timezone-aware `datetime`s.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional, TypeVar, Union

T = TypeVar("T")


class OpenEnum(str, enum.Enum):
    """An enum that keeps values it does not know (a newer service's) instead of refusing them."""

    @classmethod
    def _missing_(cls, value: object):
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    def __str__(self) -> str:
        return self.value


class Outcome(OpenEnum):
    OK = "Ok"
    CREATED = "Created"
    CREATED_WITH_ISSUES = "CreatedWithIssues"
    ALREADY_EXISTS = "AlreadyExists"
    ON_HOLD = "OnHold"
    UPDATED = "Updated"
    PARTIALLY_UPDATED = "PartiallyUpdated"
    FAILED_TO_UPDATE = "FailedToUpdate"
    CANCELLED = "Cancelled"
    FAILED_TO_CANCEL = "FailedToCancel"
    ACTION_NOT_AVAILABLE = "ActionNotAvailable"
    VALIDATION_FAILED = "ValidationFailed"
    ENTITY_NOT_FOUND = "EntityNotFound"
    NOT_AUTHENTICATED = "NotAuthenticated"
    TOO_MANY_REQUESTS = "TooManyRequests"
    INTERNAL_SERVER_ERROR = "InternalServerError"


class Stage(OpenEnum):
    DRAFT = "Draft"
    IN_PROGRESS = "InProgress"
    COMPLETE = "Complete"
    CANCELLED = "Cancelled"


class DetailStatus(OpenEnum):
    NOT_STARTED = "NotStarted"
    IN_PROGRESS = "InProgress"
    COMPLETE = "Complete"
    ERROR = "Error"


class ShippingMethod(OpenEnum):
    BUDGET = "Budget"
    STANDARD = "Standard"
    EXPRESS = "Express"
    OVERNIGHT = "Overnight"


class ShipmentStatus(OpenEnum):
    PROCESSING = "Processing"
    CANCELLED = "Cancelled"
    SHIPPED = "Shipped"


# --- the conversion between JSON and the models ---------------------------------------------

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _wire_name(f: dataclasses.Field) -> str:
    return f.metadata.get("wire", _camel(f.name))


def _datetime(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    # The service writes up to seven fractional digits; fromisoformat wants at most six.
    if "." in text:
        head, tail = text.split(".", 1)
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is list:
        (inner,) = typing.get_args(kind)
        return [_convert(inner, v) for v in value]
    if origin is dict:
        _, inner = typing.get_args(kind)
        return {k: _convert(inner, v) for k, v in value.items()}
    if kind is Any:
        return value
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            return load(kind, value)
        if issubclass(kind, enum.Enum):
            return kind(value)
        if kind is Decimal:
            return Decimal(str(value))
        if kind is datetime:
            return _datetime(value)
        if kind is bool and isinstance(value, str):
            return value.lower() in ("yes", "true")
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def load(cls: type[T], data: dict) -> T:
    """An answer model from its JSON object (unknown keys ignored, missing ones None)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name == "raw":
            values["raw"] = data
        elif f.init:
            values[f.name] = _convert(hints[f.name], data.get(_wire_name(f)))
    return cls(**values)


def dump(value: Any) -> Any:
    """A request model (or a plain dict in the documented shape) as the JSON to send."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name != "raw" and item is not None:
                out[_wire_name(f)] = dump(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


# --- shared by requests and answers ---------------------------------------------------------

@dataclass
class Cost:
    amount: Decimal
    currency: str


@dataclass
class Address:
    line1: str
    postal_or_zip_code: str
    country_code: str
    town_or_city: str
    line2: Optional[str] = None
    state_or_county: Optional[str] = None


@dataclass
class Recipient:
    name: str
    address: Address
    email: Optional[str] = None
    phone_number: Optional[str] = None


# --- requests --------------------------------------------------------------------------------

@dataclass
class NewAsset:
    print_area: str
    url: str
    md5_hash: Optional[str] = None


@dataclass
class NewItem:
    sku: str
    copies: int
    assets: list[NewAsset]
    sizing: Optional[str] = None
    attributes: Optional[dict[str, str]] = None
    merchant_reference: Optional[str] = None
    recipient_cost: Optional[Cost] = None


@dataclass
class PackingSlipRequest:
    url: str


@dataclass
class NewOrder:
    shipping_method: Union[ShippingMethod, str]
    recipient: Recipient
    items: list[NewItem]
    merchant_reference: Optional[str] = None
    idempotency_key: Optional[str] = None
    callback_url: Optional[str] = None
    packing_slip: Optional[PackingSlipRequest] = None
    metadata: Optional[dict[str, Any]] = None


@dataclass
class QuoteAsset:
    print_area: str


@dataclass
class QuoteItemRequest:
    sku: str
    copies: int
    assets: list[QuoteAsset]
    attributes: Optional[dict[str, str]] = None


@dataclass
class QuoteRequest:
    destination_country_code: str
    items: list[QuoteItemRequest]
    shipping_method: Optional[Union[ShippingMethod, str]] = None
    currency_code: Optional[str] = None


# --- answers ---------------------------------------------------------------------------------

@dataclass
class Asset:
    id: str
    print_area: str
    url: str
    status: Optional[str] = None
    md5_hash: Optional[str] = None
    thumbnail_url: Optional[str] = None
    raw: dict = _raw()


@dataclass
class Item:
    id: str
    sku: str
    copies: int
    status: Optional[str] = None
    merchant_reference: Optional[str] = None
    sizing: Optional[str] = None
    attributes: Optional[dict[str, Any]] = None
    assets: Optional[list[Asset]] = None
    recipient_cost: Optional[Cost] = None
    raw: dict = _raw()


@dataclass
class AuthorisationDetails:
    authorisation_url: str
    payment_details: Optional[Cost] = None


@dataclass
class Issue:
    object_id: str
    error_code: str
    description: str
    authorisation_details: Optional[AuthorisationDetails] = None
    raw: dict = _raw()


@dataclass
class StatusDetails:
    download_assets: DetailStatus
    print_ready_assets_prepared: DetailStatus
    allocate_production_location: DetailStatus
    in_production: DetailStatus
    shipping: DetailStatus


@dataclass
class Status:
    stage: Stage
    issues: list[Issue]
    details: StatusDetails


@dataclass
class ChargeItem:
    id: str
    cost: Cost
    shipment_id: Optional[str] = None
    item_id: Optional[str] = None


@dataclass
class Charge:
    id: str
    total_cost: Cost
    items: list[ChargeItem]
    charge_type: Optional[str] = None
    prodigi_invoice_number: Optional[str] = None


@dataclass
class Carrier:
    name: Optional[str] = None
    service: Optional[str] = None


@dataclass
class Tracking:
    number: Optional[str] = None
    url: Optional[str] = None


@dataclass
class FulfillmentLocation:
    country_code: str
    lab_code: str


@dataclass
class ShipmentItem:
    item_id: str


@dataclass
class Shipment:
    id: str
    status: ShipmentStatus
    items: list[ShipmentItem]
    carrier: Optional[Carrier] = None
    tracking: Optional[Tracking] = None
    dispatch_date: Optional[datetime] = None
    fulfillment_location: Optional[FulfillmentLocation] = None
    raw: dict = _raw()


@dataclass
class PackingSlip:
    url: str
    status: Optional[str] = None


@dataclass
class Order:
    id: str
    created: datetime
    last_updated: datetime
    shipping_method: ShippingMethod
    recipient: Recipient
    items: list[Item]
    status: Optional[Status] = None  # None while the order is in its pause window
    charges: Optional[list[Charge]] = None
    shipments: Optional[list[Shipment]] = None
    callback_url: Optional[str] = None
    merchant_reference: Optional[str] = None
    idempotency_key: Optional[str] = None
    packing_slip: Optional[PackingSlip] = None
    metadata: Optional[dict[str, Any]] = None
    raw: dict = _raw()


@dataclass
class CreatedOrder:
    outcome: Outcome
    order: Order
    trace_parent: Optional[str] = None


@dataclass
class Availability:
    is_available: bool


@dataclass
class Actions:
    cancel: Availability
    change_recipient_details: Availability
    change_shipping_method: Availability
    change_meta_data: Availability = field(metadata={"wire": "changeMetaData"})


@dataclass
class ShipmentUpdateResult:
    shipment_id: str
    successful: bool
    error_code: Optional[str] = None
    description: Optional[str] = None


@dataclass
class ActionResult:
    outcome: Outcome
    order: Optional[Order] = None
    shipment_update_results: Optional[list[ShipmentUpdateResult]] = None
    trace_parent: Optional[str] = None
    raw: dict = _raw()


@dataclass
class QuoteCostSummary:
    items: Cost
    shipping: Cost


@dataclass
class QuoteShipment:
    cost: Cost
    items: list[str]
    carrier: Optional[Carrier] = None
    fulfillment_location: Optional[FulfillmentLocation] = None


@dataclass
class QuoteItem:
    id: str
    sku: str
    copies: int
    unit_cost: Cost
    attributes: Optional[dict[str, str]] = None
    assets: Optional[list[QuoteAsset]] = None


@dataclass
class Quote:
    shipment_method: ShippingMethod
    cost_summary: QuoteCostSummary
    shipments: list[QuoteShipment]
    items: list[QuoteItem]


@dataclass
class QuoteIssue:
    error_code: str
    description: str


@dataclass
class Quotes:
    outcome: Outcome
    quotes: list[Quote]
    issues: Optional[list[QuoteIssue]] = None
    trace_parent: Optional[str] = None


@dataclass
class Dimensions:
    width: Decimal
    height: Decimal
    units: str


@dataclass
class PrintAreaSize:
    horizontal_resolution: int
    vertical_resolution: int


@dataclass
class PrintArea:
    required: bool


@dataclass
class Variant:
    attributes: dict[str, str]
    ships_to: list[str]
    print_area_sizes: dict[str, PrintAreaSize]


@dataclass
class Product:
    sku: str
    description: str
    product_dimensions: Optional[Dimensions] = None
    attributes: Optional[dict[str, list[str]]] = None
    print_areas: Optional[dict[str, PrintArea]] = None
    variants: Optional[list[Variant]] = None
    raw: dict = _raw()


@dataclass
class SpineInfo:
    width_mm: Decimal


@dataclass
class Spine:
    success: bool
    message: Optional[str] = None
    spine_info: Optional[SpineInfo] = None
