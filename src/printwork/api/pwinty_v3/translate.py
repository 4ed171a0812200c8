"""Pwinty v3.0 wire format <-> core objects.

Orders and images are written with every key the real service sends, in its order, unset ones
null and amounts 0 (issue 12, recorded from the real sandbox); money is integer minor units.
Pwinty order N is the core's order N (`ord_N` in v4), image N its item N (`ori_N`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import orjson

from printwork.core.callbacks.events import SHIPMENT_CHANGED, STAGE_CHANGED, EventContext, OrderChange, RenderedEvent
from printwork.core.catalog.domain import SHIPPING_METHODS_BY_LOWER
from printwork.core.countries import minor_units
from printwork.core.errors import FailureCollector
from printwork.core.orders import drafts
from printwork.core.orders.actions import availability_for
from printwork.core.orders.domain import (
    ISSUE_FAILED_TO_DOWNLOAD,
    ISSUE_IMAGE_UNUSABLE,
    PAYMENT_INVOICE_ME,
    PAYMENT_INVOICE_RECIPIENT,
    STAGE_AWAITING_PAYMENT,
    STAGE_CANCELLED,
    STAGE_COMPLETE,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    Cost,
    ItemView,
    OrderView,
    ShipmentView,
    item_public_id,
)
from printwork.core.orders.progress import ASSET_COMPLETE, ASSET_ERROR, LAB_CANCELLED

FACE = "pwinty_v3"
RENDITION_FORMAT = "pwinty_v3@1"

STATUSES = {
    STAGE_DRAFT: "NotYetSubmitted",
    STAGE_ON_HOLD: "Submitted",  # submitted, waiting out the merchant's pause window
    STAGE_IN_PROGRESS: "Submitted",
    STAGE_AWAITING_PAYMENT: "AwaitingPayment",
    STAGE_COMPLETE: "Complete",
    STAGE_CANCELLED: "Cancelled",
}
PAYMENTS = {PAYMENT_INVOICE_ME: "InvoiceMe", PAYMENT_INVOICE_RECIPIENT: "InvoiceRecipient"}
PAYMENTS_BY_LOWER = {v.lower(): k for k, v in PAYMENTS.items()}
SIZINGS = {"fillPrintArea": "Crop", "fitPrintArea": "ShrinkToFit", "stretchToPrintArea": "ShrinkToExactFit"}
SIZINGS_BY_LOWER = {v.lower(): k for k, v in SIZINGS.items()}
DEFAULT_SIZING = "fillPrintArea"  # Crop

# SubmissionStatus codes (INVENTORY V3-5).
CHECK_CODES = {
    drafts.NO_ITEMS: "NoItemsInOrder",
    drafts.ADDRESS_INCOMPLETE: "PostalAddressNotSet",
    drafts.ITEMS_HAVE_ERRORS: "ItemsContainingErrors",
    drafts.IMAGE_NOT_DOWNLOADED: "FileCouldNotBeDownloaded",
    drafts.IMAGE_UNUSABLE: "InvalidImageFile",
    drafts.ZERO_COPIES: "ZeroCopies",
    drafts.ATTRIBUTE_INVALID: "AttributeNotValid",
    drafts.IMAGE_TOO_SMALL: "PictureSizeTooSmall",
    drafts.CROPPING_WILL_OCCUR: "CroppingWillOccur",
    drafts.SIZE_NOT_CHECKED_YET: "CouldNotValidateImageSize",
    drafts.ASPECT_NOT_CHECKED_YET: "CouldNotValidateAspectRatio",
}

# The core's field paths and the v3 names of the same fields.
WIRE_NAMES = {
    "merchant_reference": "merchantOrderId", "recipient.name": "recipientName", "recipient.address.line1": "address1",
    "recipient.address.line2": "address2", "recipient.address.town_or_city": "addressTownOrCity",
    "recipient.address.state_or_county": "stateOrCounty", "recipient.address.postal_or_zip_code": "postalOrZipCode",
    "recipient.address.country_code": "countryCode", "destination_country_code": "countryCode",
    "shipping_method": "preferredShippingMethod",
    "payment_option": "payment", "packing_slip_url": "packingSlipUrl", "recipient.phone_number": "mobileTelephone",
    "recipient.email": "email", "copies": "copies", "sku": "sku", "url": "url", "md5_hash": "md5Hash",
    "sizing": "sizing", "body": "body",
}


_WIRE_BY_LOWER = {wire.lower(): wire for wire in WIRE_NAMES.values()}


def wire_path(path: str) -> str:
    """A core field path as v3 names it: its fields are flat (`countryCode`), images `images[0].sku`."""
    if path in WIRE_NAMES:
        return WIRE_NAMES[path]
    if path.startswith("items["):
        index, _, rest = path[len("items["):].partition("].")
        return f"images[{index}].{WIRE_NAMES.get(rest, rest)}" if rest else f"images[{index}]"
    return path


# --- reading ---------------------------------------------------------------------------------

def _lowered(raw: dict) -> dict:
    return {str(k).lower(): v for k, v in raw.items()}


def _text(values: dict, name: str, failures: FailureCollector, *, required: bool = False) -> str | None:
    value = values.get(name)
    wire = _wire_of(name)
    if value is None or value == "":
        if required:
            failures.add(wire, "Required", None)
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        failures.add(wire, "MustBeAString", value)
        return None
    return value


def _wire_of(lowered: str) -> str:
    """A request field, read case-insensitively, under the name the documents give it."""
    return _WIRE_BY_LOWER.get(lowered, lowered)


def parse_order(raw: Any, failures: FailureCollector) -> drafts.DraftDetails | None:
    """A create or PUT body (JSON or form); the read-only fields a client echoes back are ignored."""
    if not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        return None
    values = _lowered(raw)
    country = _text(values, "countrycode", failures, required=True)
    method_raw = _text(values, "preferredshippingmethod", failures, required=True)
    method = SHIPPING_METHODS_BY_LOWER.get(method_raw.lower(), method_raw) if method_raw else None
    payment_raw = _text(values, "payment", failures)
    payment = None
    if payment_raw is not None:
        payment = PAYMENTS_BY_LOWER.get(payment_raw.lower())
        if payment is None:
            failures.add("payment", "InvalidValue", payment_raw)
    details = drafts.DraftDetails(
        country_code=country or "", shipping_method=method or "",
        recipient_name=_text(values, "recipientname", failures, required=True),
        line1=_text(values, "address1", failures), line2=_text(values, "address2", failures),
        town_or_city=_text(values, "addresstownorcity", failures),
        state_or_county=_text(values, "stateorcounty", failures),
        postal_or_zip_code=_text(values, "postalorzipcode", failures),
        email=_text(values, "email", failures),
        phone_number=_text(values, "mobiletelephone", failures) or _text(values, "telephone", failures),
        merchant_reference=_text(values, "merchantorderid", failures),
        packing_slip_url=_text(values, "packingslipurl", failures),
        payment_option=payment,
    )
    if country is None or method is None:
        return None
    return details


def _integer(values: dict, name: str, path: str, failures: FailureCollector, *, default: int | None = None) -> int | None:
    value = values.get(name)
    if value is None or value == "":
        if default is None:
            failures.add(path, "Required", None)
        return default
    if isinstance(value, bool):
        failures.add(path, "MustBeAnInteger", value)
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())  # the document's own batch example sends "copies": "4"
    failures.add(path, "MustBeAnInteger", value)
    return None


def parse_image(raw: Any, path: str, failures: FailureCollector, currency: str) -> drafts.DraftItem | None:
    """One image of `POST …/images` or of a batch; `copies` may be a string, as the documents send it."""
    if not isinstance(raw, dict):
        failures.add(path or "body", "MustBeAnObject", raw)
        return None
    values = _lowered(raw)
    where = f"{path}." if path else ""
    sku = values.get("sku")
    url = values.get("url")
    if not isinstance(sku, str) or not sku.strip():
        failures.add(f"{where}sku", "Required" if sku in (None, "") else "MustBeAString", sku)
    if not isinstance(url, str) or not url.strip():
        failures.add(f"{where}url", "Required" if url in (None, "") else "MustBeAString", url)
    copies = _integer(values, "copies", f"{where}copies", failures)
    sizing_raw = values.get("sizing")
    sizing = DEFAULT_SIZING
    if sizing_raw not in (None, ""):
        sizing = SIZINGS_BY_LOWER.get(str(sizing_raw).lower())
        if sizing is None:
            failures.add(f"{where}sizing", "InvalidValue", sizing_raw)
    md5 = values.get("md5hash")
    if md5 is not None and not isinstance(md5, str):
        failures.add(f"{where}md5Hash", "MustBeAString", md5)
    attributes = values.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        failures.add(f"{where}attributes", "MustBeAnObjectOfStrings", attributes)
        attributes = {}
    price_to_user = None
    if values.get("pricetouser") not in (None, ""):
        cents = _integer(values, "pricetouser", f"{where}priceToUser", failures)
        if cents is not None:
            if cents < 0:
                failures.add(f"{where}priceToUser", "MustNotBeNegative", cents)
            else:
                price_to_user = Cost(format(Decimal(cents).scaleb(-minor_units(currency)), "f"), currency)
    if not isinstance(sku, str) or not isinstance(url, str) or copies is None or sizing is None:
        return None
    return drafts.DraftItem(sku=sku.strip(), url=url.strip(), copies=copies, sizing=sizing, attributes=attributes,
                            md5_hash=md5 or None, recipient_price=price_to_user)


def parse_status(raw: Any, failures: FailureCollector) -> str | None:
    """`status` of `POST …/status`: Submitted, Cancelled or AwaitingPayment, in any case."""
    value = _lowered(raw).get("status") if isinstance(raw, dict) else None
    if not isinstance(value, str) or not value:
        failures.add("status", "Required", value)
        return None
    wanted = {"submitted": "Submitted", "cancelled": "Cancelled", "awaitingpayment": "AwaitingPayment"}.get(value.lower())
    if wanted is None:
        failures.add("status", "InvalidValue", value)
    return wanted


# --- writing ---------------------------------------------------------------------------------

def minor(cost: Cost | Decimal | str | None, currency: str | None = None) -> int:
    if cost is None:
        return 0
    if isinstance(cost, Cost):
        amount, currency = Decimal(cost.amount), cost.currency
    else:
        amount = Decimal(cost)
    return int(amount.scaleb(minor_units(currency or "GBP")).to_integral_value())


def _timestamp(value) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def _or_none(text: str | None) -> str | None:
    return text or None


def _charged(view: OrderView) -> tuple[int, int, dict[int, int]]:
    """(items, shipping, per item) in minor units: what the order's charges come to, refunds deducted."""
    items = shipping = 0
    per_item: dict[int, int] = {}
    for charge in view.charges:
        sign = -1 if charge.charge_type == "Refund" else 1
        for line in charge.items:
            amount = sign * minor(line.cost)
            if line.item_id is not None:
                items += amount
                per_item[line.item_id] = per_item.get(line.item_id, 0) + amount
            else:
                shipping += amount
    return items, shipping, per_item


def _image_status(item: ItemView, view: OrderView) -> tuple[str, str | None]:
    asset = item.assets[0] if item.assets else None
    if asset is None:
        return "AwaitingUrlOrData", None
    if asset.status == ASSET_COMPLETE:
        return "Ok", None
    if asset.status == ASSET_ERROR:
        issue = next((i for i in view.issues if i.object_id == item_public_id(item.id)
                      and i.error_code in (ISSUE_IMAGE_UNUSABLE, ISSUE_FAILED_TO_DOWNLOAD)), None)
        unusable = issue is not None and issue.error_code == ISSUE_IMAGE_UNUSABLE
        return ("Invalid" if unusable else "FileNotFoundAtUrl"), (issue.description if issue else None)
    return "NotYetDownloaded", None


def image_document(item: ItemView, view: OrderView, per_item: dict[int, int]) -> dict:
    asset = item.assets[0] if item.assets else None
    status, error = _image_status(item, view)
    return {
        "id": item.id,
        "sku": item.sku,
        "url": asset.url if asset else None,
        "status": status,
        "copies": item.copies,
        "sizing": SIZINGS.get(item.sizing, "Crop"),
        "priceToUser": minor(item.recipient_cost) if item.recipient_cost else None,
        "price": per_item.get(item.id, 0),
        "md5Hash": asset.md5_hash if asset else None,
        "previewUrl": asset.thumbnail_url if asset else None,
        "thumbnailUrl": asset.thumbnail_url if asset else None,
        "attributes": orjson.loads(item.attributes_json),
        "errorMessage": error,
    }


def _shipment(shipment: ShipmentView) -> dict:
    return {
        "shipmentId": str(shipment.id),
        "isTracked": shipment.tracked,
        "trackingNumber": shipment.tracking_number,
        "trackingUrl": shipment.tracking_url,
        "carrier": shipment.carrier,
        "earliestEstimatedArrivalDate": None,
        "latestEstimatedArrivalDate": None,
        "shippedOn": _timestamp(shipment.dispatch_date),
        "photoIds": list(shipment.item_ids),
    }


def order_document(view: OrderView) -> dict:
    """The v3 Order: 29 keys in the real service's order."""
    address = view.recipient.address
    if view.charges:
        items_price, shipping_price, per_item = _charged(view)
    elif view.draft_price is not None:
        items_price, shipping_price = minor(view.draft_price.items), minor(view.draft_price.shipping)
        per_item = {item.id: minor(cost) for item, cost in zip(view.items, view.draft_price.per_item)}
    else:
        items_price = shipping_price = 0
        per_item = {}
    # Cancelled shipments are dropped, as the real service drops them.
    shipments = [s for s in view.shipments if s.lab_stage != LAB_CANCELLED]
    available = availability_for(view.stage, [s.lab_stage for s in shipments if s.lab_stage])
    payment_url = next((i.authorisation_url for i in view.issues if i.authorisation_url), None)
    currency = view.draft_price.items.currency if view.draft_price else (
        view.charges[0].total.currency if view.charges else None)
    return {
        "id": view.id,
        "address1": _or_none(address.line1),
        "address2": _or_none(address.line2),
        "postalOrZipCode": _or_none(address.postal_or_zip_code),
        "countryCode": _or_none(address.country_code),
        "addressTownOrCity": _or_none(address.town_or_city),
        "recipientName": _or_none(view.recipient.name),
        "stateOrCounty": _or_none(address.state_or_county),
        "status": STATUSES.get(view.stage, view.stage),
        "payment": PAYMENTS.get(view.payment_option or PAYMENT_INVOICE_ME),
        "paymentUrl": payment_url,
        "price": items_price + shipping_price,
        "shippingInfo": {"price": shipping_price, "shipments": [_shipment(s) for s in shipments]},
        "images": [image_document(item, view, per_item) for item in view.items],
        "invoiceAmountNet": 0,
        "invoiceTax": 0,
        "invoiceCurrency": currency,
        "merchantOrderId": view.merchant_reference,
        "preferredShippingMethod": view.shipping_method,
        "mobileTelephone": view.recipient.phone_number,
        "created": _timestamp(view.created),
        "lastUpdated": _timestamp(view.last_updated),
        "canCancel": available.cancel,
        "canHold": False,  # v3 has no hold (INVENTORY A-47); a pause window is the merchant's setting
        "canUpdateShipping": available.change_recipient,
        "canUpdateImages": view.stage == STAGE_DRAFT,
        "tag": None,
        "packingSlipUrl": view.packing_slip_url,
        "errorMessage": None,
    }


def render_order(view: OrderView) -> bytes:
    return orjson.dumps(order_document(view))


def submission_status(check: drafts.DraftCheck) -> dict:
    return {
        "id": str(check.order_id),
        "isValid": check.is_valid,
        "generalErrors": [CHECK_CODES.get(c, c) for c in check.general_errors],
        "photos": [{"id": item.item_id, "errors": [CHECK_CODES.get(c, c) for c in item.errors],
                    "warnings": [CHECK_CODES.get(c, c) for c in item.warnings]} for item in check.items],
    }


# --- callbacks -------------------------------------------------------------------------------

class Callbacks:
    """v3 callbacks: the order's status and shipments, on every status change and shipment change."""

    rendition_format = RENDITION_FORMAT

    def shown_stage(self, stage: str) -> str | None:
        return STATUSES.get(stage, stage)

    def render_event(self, change: OrderChange, context: EventContext) -> RenderedEvent | None:
        if change.kind not in (STAGE_CHANGED, SHIPMENT_CHANGED):
            return None  # v3 says nothing of downloads
        order = orjson.loads(context.order_document)
        shipments = [{
            "shipmentId": s["shipmentId"], "items": [str(i) for i in s["photoIds"]],
            "status": "Shipped" if s["shippedOn"] else "InProgress",
            "trackingNumber": s["trackingNumber"], "trackingUrl": s["trackingUrl"],
        } for s in order["shippingInfo"]["shipments"]]
        body = orjson.dumps({
            "orderId": context.order_id,
            "environment": "LIVE" if context.environment == "live" else "SANDBOX",
            "timestamp": _timestamp(context.at),
            "status": order["status"],
            "shipments": shipments,
        })
        event_type = f"pwinty.order.{'status' if change.kind == STAGE_CHANGED else 'shipment'}.{change.value}"
        return RenderedEvent(event_type, body)


def callbacks(_public_base_url: str) -> Callbacks:
    return Callbacks()


# --- envelopes -------------------------------------------------------------------------------

def to_xml(value: Any, name: str) -> str:
    """A JSON value as XML: objects as elements by key, arrays as repeated `item`s, null as empty."""
    if isinstance(value, dict):
        inner = "".join(to_xml(v, k) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(to_xml(v, "item") for v in value)
    elif value is None:
        return f"<{name} />"
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"
