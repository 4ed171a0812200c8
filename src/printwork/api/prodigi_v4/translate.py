"""Prodigi v4 wire format <-> core objects.

Reading is liberal (INVENTORY §4): property names in any case, enum values in any case,
`sizing` defaulting to fillPrintArea. Writing follows the documents' JSON examples exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

from printwork.api.outcome import camel_path
from printwork.core.callbacks.events import (
    DOWNLOADS_CHANGED, SHIPMENT_CHANGED, STAGE_CHANGED, EventContext, OrderChange, RenderedEvent)
from printwork.core.catalog.domain import SHIPPING_METHODS_BY_LOWER, Product
from printwork.core.errors import FailureCollector, ValidationFailed
from printwork.core.orders.actions import SHIPMENT_NOT_AVAILABLE, SHIPMENT_UPDATE_FAILED, Availability, ShipmentResult
from printwork.core.orders.domain import (
    ISSUE_FAILED_TO_DOWNLOAD,
    ISSUE_IMAGE_UNUSABLE,
    ISSUE_ITEM_UNAVAILABLE,
    ISSUE_NOT_ALLOCATABLE,
    ISSUE_NOT_DOWNLOADED,
    ISSUE_REJECTED_BY_LAB,
    ISSUE_REQUIRES_PAYMENT,
    DEFAULT_SIZING,
    SIZINGS_BY_LOWER,
    STAGE_AWAITING_PAYMENT,
    STAGE_CANCELLED,
    STAGE_COMPLETE,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    Address,
    Cost,
    IssueView,
    NewAsset,
    NewItem,
    NewOrder,
    OrderListQuery,
    OrderView,
    Outcome,
    Recipient,
    asset_public_id,
    charge_item_public_id,
    charge_public_id,
    item_public_id,
    order_public_id,
    parse_order_id,
    shipment_public_id,
)
from printwork.core.orders.rules import canonical_amount
from printwork.core.quotes.service import METHOD_UNAVAILABLE, US_SALES_TAX_WARNING, QuoteRequest, QuoteResult

# Stored renditions are kept per format name: a change to how an order is rendered must change
# the revision, or stored renditions of the old shape would still be served (migration 0005).
RENDITION_FORMAT = "prodigi_v4@2"
# The name orders placed through this face remember (orders.face).
FACE = "prodigi_v4"

# The core's field paths are snake_case; v4 names the same fields in camelCase
# (`recipient.address.country_code` -> `recipient.address.countryCode`).
wire_path = camel_path

OUTCOMES = {
    Outcome.CREATED: "Created",
    Outcome.CREATED_WITH_ISSUES: "CreatedWithIssues",
    Outcome.ALREADY_EXISTS: "AlreadyExists",
    Outcome.ON_HOLD: "OnHold",
    Outcome.CANCELLED: "Cancelled",
    Outcome.FAILED_TO_CANCEL: "FailedToCancel",
    Outcome.ACTION_NOT_AVAILABLE: "ActionNotAvailable",
    Outcome.UPDATED: "Updated",
    Outcome.PARTIALLY_UPDATED: "PartiallyUpdated",
    Outcome.FAILED_TO_UPDATE: "FailedToUpdate",
}
# The core's issue and shipment-result codes as v4 spells them (documents; `FailedToDownloaded` sic).
ERROR_CODES = {
    ISSUE_ITEM_UNAVAILABLE: "order.items.ItemUnavailable",
    ISSUE_NOT_DOWNLOADED: "order.items.assets.NotDownloaded",
    ISSUE_FAILED_TO_DOWNLOAD: "order.items.assets.FailedToDownloaded",
    ISSUE_IMAGE_UNUSABLE: "order.items.assets.FailedToDownloaded",
    ISSUE_REQUIRES_PAYMENT: "RequiresPaymentAuthorisation",
    ISSUE_NOT_ALLOCATABLE: "order.items.NotAllocatable",
    ISSUE_REJECTED_BY_LAB: "order.shipments.RejectedByLab",
    SHIPMENT_NOT_AVAILABLE: "order.shipments.notAvailable",
    SHIPMENT_UPDATE_FAILED: "order.shipments.updateFailed",
    US_SALES_TAX_WARNING: "destinationCountryCode.UsSalesTaxWarning",
    METHOD_UNAVAILABLE: "shippingMethod.NotAvailableForDestination",
}


def error_code(code: str | None) -> str | None:
    return ERROR_CODES.get(code, code)


# updateRecipient's `result`.
RECIPIENT_RESULTS = {
    Outcome.UPDATED: "completed", Outcome.PARTIALLY_UPDATED: "partiallyComplete", Outcome.FAILED_TO_UPDATE: "failed"}

# The list filter's `status` values and the stage each selects (INVENTORY A-10).
LIST_STATUS_STAGES = {
    "draft": (STAGE_DRAFT, STAGE_ON_HOLD),  # not submitted yet, or paused: both still editable
    "awaitingPayment": (STAGE_AWAITING_PAYMENT,),
    "inProgress": (STAGE_IN_PROGRESS,),
    "complete": (STAGE_COMPLETE,),
    "cancelled": (STAGE_CANCELLED,),
}
_LIST_STATUS_BY_LOWER = {k.lower(): v for k, v in LIST_STATUS_STAGES.items()}

_MISSING = object()
# Pages beyond this many orders are not a request anyone means; the databases' own limits are
# higher, but an unbounded integer would reach them.
MAX_SKIP = 2**31 - 1


class _Object:
    """A JSON object read with case-insensitive property names."""

    __slots__ = ("_values", "path")

    def __init__(self, raw: dict, path: str) -> None:
        self._values = {k.lower(): v for k, v in raw.items()}
        self.path = path

    def get(self, name: str) -> Any:
        return self._values.get(name.lower(), _MISSING)

    def child_path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name


def _string(obj: _Object, name: str, failures: FailureCollector, *, required: bool) -> str | None:
    value = obj.get(name)
    if value is _MISSING or value is None:
        if required:
            failures.add(obj.child_path(name), "Required", None)
        return None
    if not isinstance(value, str):
        failures.add(obj.child_path(name), "MustBeAString", value)
        return None
    if not failures.storable(obj.child_path(name), value):
        return None
    if required and not value.strip():
        failures.add(obj.child_path(name), "Required", value)
        return None
    return value


def _object(obj: _Object, name: str, failures: FailureCollector, *, required: bool) -> _Object | None:
    value = obj.get(name)
    if value is _MISSING or value is None:
        if required:
            failures.add(obj.child_path(name), "Required", None)
        return None
    if not isinstance(value, dict):
        failures.add(obj.child_path(name), "MustBeAnObject", value)
        return None
    return _Object(value, obj.child_path(name))


def _list(obj: _Object, name: str, failures: FailureCollector, *, non_empty: bool) -> list | None:
    value = obj.get(name)
    if value is _MISSING or value is None:
        failures.add(obj.child_path(name), "Required", None)
        return None
    if not isinstance(value, list):
        failures.add(obj.child_path(name), "MustBeAnArray", value)
        return None
    if non_empty and not value:
        failures.add(obj.child_path(name), "MustNotBeEmptyArray", value)
        return None
    return value


def parse_recipient(obj: _Object | None, failures: FailureCollector) -> Recipient | None:
    if obj is None:
        return None
    name = _string(obj, "name", failures, required=True)
    email = _string(obj, "email", failures, required=False)
    phone = _string(obj, "phoneNumber", failures, required=False)
    address_obj = _object(obj, "address", failures, required=True)
    if address_obj is None:
        return None
    line1 = _string(address_obj, "line1", failures, required=True)
    line2 = _string(address_obj, "line2", failures, required=False)
    postal = _string(address_obj, "postalOrZipCode", failures, required=True)
    country = _string(address_obj, "countryCode", failures, required=True)
    town = _string(address_obj, "townOrCity", failures, required=True)
    state = _string(address_obj, "stateOrCounty", failures, required=False)
    if None in (name, line1, postal, country, town):
        return None
    return Recipient(name, email, phone, Address(line1, line2, postal, country.upper(), town, state))


def _copies(obj: _Object, failures: FailureCollector) -> int | None:
    copies = obj.get("copies")
    if copies is _MISSING or copies is None:
        failures.add(obj.child_path("copies"), "Required", None)
        return None
    if isinstance(copies, bool) or not isinstance(copies, int):
        failures.add(obj.child_path("copies"), "MustBeAnInteger", copies)
        return None
    return copies


def _attributes(obj: _Object, failures: FailureCollector) -> dict[str, str]:
    attributes: dict[str, str] = {}
    raw_attributes = obj.get("attributes")
    if raw_attributes in (_MISSING, None):
        return attributes
    if not isinstance(raw_attributes, dict):
        failures.add(obj.child_path("attributes"), "MustBeAnObject", raw_attributes)
        return attributes
    for key, value in raw_attributes.items():
        if not isinstance(value, str):
            failures.add(f"{obj.child_path('attributes')}.{key}", "MustBeAString", value)
        else:
            attributes[key] = value
    return attributes


def _parse_item(raw: Any, index: int, failures: FailureCollector) -> NewItem | None:
    path = f"items[{index}]"
    if not isinstance(raw, dict):
        failures.add(path, "MustBeAnObject", raw)
        return None
    obj = _Object(raw, path)
    reference = _string(obj, "merchantReference", failures, required=False)
    sku = _string(obj, "sku", failures, required=True)
    copies = _copies(obj, failures)
    sizing_raw = _string(obj, "sizing", failures, required=False)
    sizing = DEFAULT_SIZING if sizing_raw is None else SIZINGS_BY_LOWER.get(sizing_raw.lower(), sizing_raw)
    attributes = _attributes(obj, failures)
    recipient_cost = None
    cost_obj = _object(obj, "recipientCost", failures, required=False)
    if cost_obj is not None:
        amount = canonical_amount(cost_obj.get("amount"))
        currency = _string(cost_obj, "currency", failures, required=True)
        if amount is None:
            provided = cost_obj.get("amount")
            failures.add(f"{path}.recipientCost.amount", "InvalidAmount", None if provided is _MISSING else provided)
        elif currency is not None:
            recipient_cost = Cost(amount, currency.upper())
    assets: list[NewAsset] = []
    raw_assets = _list(obj, "assets", failures, non_empty=False)
    for j, raw_asset in enumerate(raw_assets or ()):
        asset_path = f"{path}.assets[{j}]"
        if not isinstance(raw_asset, dict):
            failures.add(asset_path, "MustBeAnObject", raw_asset)
            continue
        asset_obj = _Object(raw_asset, asset_path)
        area = _string(asset_obj, "printArea", failures, required=True)
        url = _string(asset_obj, "url", failures, required=True)
        md5 = _string(asset_obj, "md5Hash", failures, required=False)
        if area is not None and url is not None:
            assets.append(NewAsset(area, url, md5))
    if sku is None or copies is None or raw_assets is None:
        return None
    return NewItem(reference, sku, copies, sizing, attributes, recipient_cost, assets)


def parse_new_order(raw: Any, failures: FailureCollector) -> NewOrder | None:
    """The create-order body as a NewOrder; every shape problem goes into `failures`."""
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    obj = _Object(raw, "")
    reference = _string(obj, "merchantReference", failures, required=False)
    method_raw = _string(obj, "shippingMethod", failures, required=True)
    method = SHIPPING_METHODS_BY_LOWER.get(method_raw.lower(), method_raw) if method_raw else None
    callback_url = _string(obj, "callbackUrl", failures, required=False)
    idempotency_key = _string(obj, "idempotencyKey", failures, required=False)
    recipient = parse_recipient(_object(obj, "recipient", failures, required=True), failures)
    raw_items = _list(obj, "items", failures, non_empty=True)
    items = [_parse_item(raw_item, i, failures) for i, raw_item in enumerate(raw_items or ())]
    packing_slip_url = None
    slip = _object(obj, "packingSlip", failures, required=False)
    if slip is not None:
        packing_slip_url = _string(slip, "url", failures, required=False)
    metadata_json = None
    metadata = obj.get("metadata")
    if metadata not in (_MISSING, None):
        if not isinstance(metadata, dict):
            failures.add("metadata", "MustBeAnObject", metadata)
        else:
            try:
                metadata_json = orjson.dumps(metadata).decode()
            except (orjson.JSONEncodeError, TypeError):
                failures.add("metadata", "InvalidValue", None)
    if recipient is None or method is None or raw_items is None or any(i is None for i in items):
        return None
    return NewOrder(
        merchant_reference=reference,
        shipping_method=method,
        callback_url=callback_url,
        idempotency_key=idempotency_key,
        recipient=recipient,
        items=items,  # type: ignore[arg-type]
        packing_slip_url=packing_slip_url,
        metadata_json=metadata_json,
    )


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def _cost(cost: Cost | None) -> dict | None:
    return None if cost is None else {"amount": cost.amount, "currency": cost.currency}


def _issue(issue: IssueView) -> dict:
    # The real service sends authorisationDetails on every issue, null unless it is about payment.
    details = None if issue.authorisation_url is None else {
        "authorisationUrl": issue.authorisation_url, "paymentDetails": _cost(issue.payment)}
    return {"objectId": issue.object_id, "errorCode": error_code(issue.error_code), "description": issue.description,
            "authorisationDetails": details}


# A draft (an order of a face with a submission step, not yet submitted) shows no progress, as
# the real service shows unsubmitted Pwinty orders: its downloads are the other face's business.
_NOT_STARTED_DETAILS = {"downloadAssets": "NotStarted", "printReadyAssetsPrepared": "NotStarted",
                        "allocateProductionLocation": "NotStarted", "inProduction": "NotStarted",
                        "shipping": "NotStarted"}


def wire_stage(stage: str) -> str | None:
    """The stage a v4 client sees: none while paused (A-13), InProgress while awaiting payment (A-10)."""
    if stage == STAGE_ON_HOLD:
        return None
    return STAGE_IN_PROGRESS if stage == STAGE_AWAITING_PAYMENT else stage


def order_document(view: OrderView) -> dict:
    """The v4 Order object, keys in the order of the documents' examples."""
    stage = wire_stage(view.stage)
    return {
        "id": order_public_id(view.id),
        "created": _timestamp(view.created),
        "lastUpdated": _timestamp(view.last_updated),
        "callbackUrl": view.callback_url,
        "merchantReference": view.merchant_reference,
        "shippingMethod": view.shipping_method,
        "idempotencyKey": view.idempotency_key,
        # A paused order shows no status until its window ends (INVENTORY A-13).
        "status": {
            "stage": stage,
            "issues": [_issue(i) for i in view.issues],
            "details": _NOT_STARTED_DETAILS if view.stage == STAGE_DRAFT else {
                "downloadAssets": view.details.download_assets,
                "printReadyAssetsPrepared": view.details.print_ready_assets_prepared,
                "allocateProductionLocation": view.details.allocate_production_location,
                "inProduction": view.details.in_production,
                "shipping": view.details.shipping,
            },
        }
        if stage is not None
        else None,
        "charges": [
            {
                "id": charge_public_id(charge.id),
                "chargeType": charge.charge_type,
                "prodigiInvoiceNumber": charge.invoice_number,
                "totalCost": _cost(charge.total),
                "items": [
                    {
                        "id": charge_item_public_id(ci.id),
                        "shipmentId": None if ci.shipment_id is None else shipment_public_id(ci.shipment_id),
                        "itemId": None if ci.item_id is None else item_public_id(ci.item_id),
                        "cost": _cost(ci.cost),
                    }
                    for ci in charge.items
                ],
            }
            for charge in view.charges
        ],
        "shipments": [
            {
                "id": shipment_public_id(shipment.id),
                "status": shipment.status,
                "carrier": {"name": shipment.carrier, "service": shipment.service},
                "tracking": None if shipment.tracking_number is None else {
                    "url": shipment.tracking_url, "number": shipment.tracking_number},
                "dispatchDate": None if shipment.dispatch_date is None else _timestamp(shipment.dispatch_date),
                "items": [{"itemId": item_public_id(item_id)} for item_id in shipment.item_ids],
                "fulfillmentLocation": {"countryCode": shipment.lab_country_code, "labCode": shipment.lab_code},
            }
            for shipment in view.shipments
        ],
        "recipient": {
            "name": view.recipient.name,
            "email": view.recipient.email,
            "phoneNumber": view.recipient.phone_number,
            "address": {
                "line1": view.recipient.address.line1,
                "line2": view.recipient.address.line2,
                "postalOrZipCode": view.recipient.address.postal_or_zip_code,
                "countryCode": view.recipient.address.country_code,
                "townOrCity": view.recipient.address.town_or_city,
                "stateOrCounty": view.recipient.address.state_or_county,
            },
        },
        "items": [
            {
                "id": item_public_id(item.id),
                "status": item.status,
                "merchantReference": item.merchant_reference,
                "sku": item.sku,
                "copies": item.copies,
                "sizing": item.sizing,
                "attributes": orjson.Fragment(item.attributes_json),
                "assets": [
                    {
                        "id": asset_public_id(a.id),
                        "printArea": a.print_area,
                        "md5Hash": a.md5_hash,
                        "url": a.url,
                        "status": a.status,
                        **({"thumbnailUrl": a.thumbnail_url} if a.thumbnail_url else {}),
                    }
                    for a in item.assets
                ],
                "recipientCost": _cost(item.recipient_cost),
            }
            for item in view.items
        ],
        "packingSlip": (
            None if view.packing_slip_url is None else {"url": view.packing_slip_url, "status": view.packing_slip_status}
        ),
        "metadata": None if view.metadata_json is None else orjson.Fragment(view.metadata_json),
    }


def render_order(view: OrderView) -> bytes:
    return orjson.dumps(order_document(view))


def parse_list_query(params: list[tuple[str, str]], failures: FailureCollector) -> OrderListQuery:
    """Query keys in any case; arrays as repeated keys or `key[]`; order ids also comma-separated.

    Merchant references are never split on commas: a reference may contain one.
    """
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in params:
        key = key.lower().removesuffix("[]")
        single[key] = value
        values = [v.strip() for v in value.split(",")] if key == "orderids" else [value]
        multi.setdefault(key, []).extend(v for v in values if v)

    def integer(name: str, wire: str, default: int, low: int, high: int, *, documented_high: bool) -> int:
        """`documented_high`: the documents give the upper bound (top), so a failure names both."""
        raw = single.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            failures.add(wire, "MustBeAnInteger", raw)
            return default
        if low <= value <= high:
            return value
        if documented_high:
            failures.add(wire, f"MustBeBetween{low}And{high}", value)
        else:
            failures.add(wire, f"MustBeAtLeast{low}" if value < low else f"MustBeAtMost{high}", value)
        return default

    def timestamp(name: str, wire: str) -> datetime | None:
        raw = single.get(name)
        if raw is None or not raw.strip():
            return None
        try:
            parsed = datetime.fromisoformat(raw.strip().replace(" ", "+"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):  # OverflowError: e.g. 0001-01-01 at +00:21 is before year 1 in UTC
            failures.add(wire, "MustBeADateTime", raw)
            return None
        return parsed

    top = integer("top", "top", 10, 1, 100, documented_high=True)
    skip = integer("skip", "skip", 0, 0, MAX_SKIP, documented_high=False)
    created_from = timestamp("createdfrom", "createdFrom")
    created_to = timestamp("createdto", "createdTo")
    stages = None
    if single.get("status"):
        stages = _LIST_STATUS_BY_LOWER.get(single["status"].lower())
        if stages is None:
            failures.add("status", "InvalidValue", single["status"])
    order_ids = None
    if "orderids" in multi:
        parsed_ids = []
        for raw in multi["orderids"]:
            number = parse_order_id(raw)
            if number is None:
                failures.add("orderIds", "InvalidOrderId", raw)
            else:
                parsed_ids.append(number)
        order_ids = tuple(parsed_ids)
    references = tuple(multi["merchantreferences"]) if "merchantreferences" in multi else None
    for reference in references or ():
        failures.storable("merchantReferences", reference)
    return OrderListQuery(top, skip, created_from, created_to, stages, order_ids, references)


def list_query_string(query: OrderListQuery, skip: int) -> str:
    """The query string of the page starting at `skip`, keeping every filter."""
    params: list[tuple[str, str]] = [("top", str(query.top)), ("skip", str(skip))]
    if query.created_from:
        params.append(("createdFrom", _timestamp(query.created_from)))
    if query.created_to:
        params.append(("createdTo", _timestamp(query.created_to)))
    if query.stages:
        params.append(("status", next(k for k, v in LIST_STATUS_STAGES.items() if v == query.stages)))
    for order_id in query.order_ids or ():
        params.append(("orderIds", order_public_id(order_id)))
    for reference in query.merchant_references or ():
        params.append(("merchantReferences", reference))
    return urlencode(params)



def parse_quote_request(raw: Any, failures: FailureCollector) -> QuoteRequest | None:
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    obj = _Object(raw, "")
    method_raw = _string(obj, "shippingMethod", failures, required=False)
    method = SHIPPING_METHODS_BY_LOWER.get(method_raw.lower(), method_raw) if method_raw else None
    country = _string(obj, "destinationCountryCode", failures, required=True)
    currency = _string(obj, "currencyCode", failures, required=False)
    raw_items = _list(obj, "items", failures, non_empty=True)
    items: list[NewItem | None] = []
    for i, raw_item in enumerate(raw_items or ()):
        path = f"items[{i}]"
        if not isinstance(raw_item, dict):
            failures.add(path, "MustBeAnObject", raw_item)
            items.append(None)
            continue
        item_obj = _Object(raw_item, path)
        sku = _string(item_obj, "sku", failures, required=True)
        copies = _copies(item_obj, failures)
        attributes = _attributes(item_obj, failures)
        assets = []
        for j, raw_asset in enumerate(_list(item_obj, "assets", failures, non_empty=False) or ()):
            if not isinstance(raw_asset, dict):
                failures.add(f"{path}.assets[{j}]", "MustBeAnObject", raw_asset)
                continue
            area = _string(_Object(raw_asset, f"{path}.assets[{j}]"), "printArea", failures, required=True)
            if area is not None:
                assets.append(NewAsset(area, "", None))
        items.append(None if sku is None or copies is None else NewItem(None, sku, copies, DEFAULT_SIZING, attributes, None, assets))
    if country is None or raw_items is None or any(item is None for item in items):
        return None
    return QuoteRequest(method, country, currency, items)  # type: ignore[arg-type]


def _money(amount: Decimal, currency: str) -> dict:
    # Allocation figures are already rounded to the currency, and totals are sums of them.
    return {"amount": format(amount, "f"), "currency": currency}


def quotes_document(result: QuoteResult, request: QuoteRequest) -> dict:
    currency = result.currency
    quotes = []
    for allocation, item_ids in zip(result.allocations, result.item_ids):
        quotes.append({
            "shipmentMethod": allocation.method,
            "costSummary": {
                "items": _money(allocation.items_total, currency),
                "shipping": _money(allocation.shipping_total, currency),
            },
            "shipments": [
                {
                    "carrier": {"name": shipment.rate.carrier, "service": shipment.rate.service},
                    "fulfillmentLocation": {"countryCode": shipment.lab.country_code, "labCode": shipment.lab.code},
                    "cost": _money(shipment.cost, currency),
                    "items": [item_ids[p] for p in shipment.positions],
                }
                for shipment in allocation.shipments
            ],
            "items": [
                {
                    "id": item_ids[line.position],
                    "sku": line.sku,
                    "copies": line.copies,
                    "unitCost": _money(line.unit_cost, currency),
                    "attributes": request.items[line.position].attributes,
                    "assets": [{"printArea": a.print_area} for a in request.items[line.position].assets],
                }
                for line in allocation.lines
            ],
        })
    return {
        "quotes": quotes,
        "issues": [{"errorCode": error_code(i.error_code), "description": i.description} for i in result.issues],
    }


def product_document(product: Product) -> dict:
    return {
        "sku": product.sku,
        "description": product.description,
        "productDimensions": {
            "width": orjson.Fragment(format(product.width, "f")),
            "height": orjson.Fragment(format(product.height, "f")),
            "units": product.units,
        },
        "attributes": {name: list(values) for name, values in product.attributes.items()},
        "printAreas": {name: {"required": required} for name, required in product.print_areas.items()},
        "variants": [
            {
                "attributes": dict(variant.attributes),
                "shipsTo": sorted(variant.ships_to),
                "printAreaSizes": {
                    area: {"horizontalResolution": size.horizontal, "verticalResolution": size.vertical}
                    for area, size in variant.print_area_sizes.items()
                },
            }
            for variant in product.variants
        ],
    }


def parse_spine_request(raw: Any, failures: FailureCollector) -> tuple[str | None, str | None, int | None]:
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None, None, None
    obj = _Object(raw, "")
    sku = _string(obj, "sku", failures, required=True)
    country = _string(obj, "destinationCountryCode", failures, required=True)
    _string(obj, "state", failures, required=False)
    pages = obj.get("numberOfPages")
    if pages is _MISSING or pages is None:
        failures.add("numberOfPages", "Required", None)
        pages = None
    elif isinstance(pages, bool) or not isinstance(pages, int):
        failures.add("numberOfPages", "MustBeAnInteger", pages)
        pages = None
    return sku, country, pages


# CloudEvent types by what changed; the value (a stage, a status) is appended (INVENTORY A-19).
EVENT_TYPE_PREFIXES = {
    STAGE_CHANGED: "com.prodigi.order.status.stage.changed#",
    DOWNLOADS_CHANGED: "com.prodigi.order.status.details.downloadAssets.changed#",
    SHIPMENT_CHANGED: "com.prodigi.order.shipments.changed#",
}


@dataclass(frozen=True)
class Callbacks:
    """Callbacks carry the order exactly as GET /v4.0/orders/{id} shows it, in a CloudEvent (A-19)."""

    source: str  # e.g. https://printwork.example/v4.0/Orders/
    rendition_format: str = RENDITION_FORMAT

    def shown_stage(self, stage: str) -> str | None:
        return wire_stage(stage)

    def render_event(self, change: OrderChange, context: EventContext) -> RenderedEvent:
        event_type = EVENT_TYPE_PREFIXES[change.kind] + change.value
        return RenderedEvent(event_type, orjson.dumps({
            "specversion": "1.0",
            "type": event_type,
            "source": self.source,
            "id": context.event_id,
            "time": context.at.isoformat(timespec="microseconds") + "Z",
            "datacontenttype": "application/json",
            "subject": order_public_id(context.order_id),
            "data": {"order": orjson.Fragment(context.order_document)},
        }))


def callbacks(public_base_url: str) -> Callbacks:
    return Callbacks(source=f"{public_base_url.rstrip('/')}/v4.0/Orders/")


def parse_shipping_method_update(raw: Any, failures: FailureCollector) -> str | None:
    """`{"shippingMethod": …}`; the documents' table spells it `shipping_method` (A-02)."""
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    obj = _Object(raw, "")
    value = obj.get("shippingMethod")
    if value is _MISSING:
        value = obj.get("shipping_method")
    if value is _MISSING or value is None:
        failures.add("shippingMethod", "Required", None)
        return None
    method = SHIPPING_METHODS_BY_LOWER.get(value.lower()) if isinstance(value, str) else None
    if method is None:
        failures.add("shippingMethod", "InvalidValue", value)
    return method


@dataclass(frozen=True)
class RecipientUpdate:
    recipient: Recipient
    wrapped: bool  # sent as {"recipient": {...}} rather than bare

    def failures_as_sent(self, exc: ValidationFailed) -> ValidationFailed:
        """The core names the recipient's fields `recipient.…`; a bare body's client sent them at the top."""
        if self.wrapped:
            return exc
        return ValidationFailed({path.removeprefix("recipient."): entries for path, entries in exc.failures.items()})


def parse_recipient_update(raw: Any, failures: FailureCollector) -> RecipientUpdate | None:
    """The recipient bare, as the curl example sends it, or wrapped in `recipient` (A-05)."""
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    obj = _Object(raw, "")
    wrapped = obj.get("recipient")
    if isinstance(wrapped, dict):
        obj = _Object(wrapped, "recipient")
    recipient = parse_recipient(obj, failures)
    return None if recipient is None else RecipientUpdate(recipient, isinstance(wrapped, dict))


def parse_metadata_update(raw: Any, failures: FailureCollector) -> str | None:
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    metadata = _Object(raw, "").get("metadata")
    if metadata is _MISSING or metadata is None:
        failures.add("metadata", "Required", None)
        return None
    if not isinstance(metadata, dict):
        failures.add("metadata", "MustBeAnObject", metadata)
        return None
    return orjson.dumps(metadata).decode()


def shipment_results(results: list[ShipmentResult]) -> list[dict]:
    documents = []
    for result in results:
        document: dict[str, Any] = {"shipmentId": shipment_public_id(result.shipment_id), "successful": result.successful}
        if not result.successful:
            document["errorCode"] = error_code(result.error_code)
            document["description"] = result.description
        documents.append(document)
    return documents


def availability_document(available: Availability) -> dict:
    def flag(value: bool) -> dict:
        return {"isAvailable": "Yes" if value else "No"}

    return {
        "cancel": flag(available.cancel),
        "changeRecipientDetails": flag(available.change_recipient),
        "changeShippingMethod": flag(available.change_shipping_method),
        "changeMetaData": flag(available.change_metadata),
    }
