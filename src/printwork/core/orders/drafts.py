"""Orders before they are submitted: created with or without an address, given items and images,
checked, then submitted into the same order process every order runs.

A draft's images are fetched as soon as they are added (the pipeline's download step runs on
drafts and nothing else does), so a check reports on the real files: too small, cropped,
unreadable, not downloadable. Submitting checks again, applies the merchant's terms (pause
window, payment) as placing an order does, and allocates labs at once, so a submitted order
shows its shipments and price straight away.

Services flush; the boundary commits, and after the commit hands the order to the workers
(`Writes.due_orders` or `JobQueue.orders_due`) when `DraftChange.due` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from printwork.core.assets import geometry
from printwork.core.callbacks.events import Announcer
from printwork.core.catalog.domain import SHIPPING_METHODS, Catalog, Product
from printwork.core.errors import Conflict, EntityNotFound, FailureCollector
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import Owner, utcnow
from printwork.core.orders.allocation import allocate_order
from printwork.core.orders.domain import (
    DETAIL_NOT_STARTED,
    ISSUE_IMAGE_UNUSABLE,
    PAYMENT_OPTIONS,
    SIZINGS,
    STAGE_AWAITING_PAYMENT,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    Address,
    Cost,
    OrderView,
    Recipient,
    StatusDetails,
)
from printwork.core.orders.payment import request_payment
from printwork.core.orders.progress import refresh_status
from printwork.core.orders.renditions import order_changed
from printwork.core.orders import repository
from printwork.core.orders.repository import assets_t, issues_t, items_t, orders_t
from printwork.core.orders.rules import check_country, is_http_url, is_md5_hash
from printwork.core.pricing.allocation import BasketLine, NotAllocatable, allocate
from printwork.core.pricing.money import money_string
from printwork.db import Writes

ASSET_IN_PROGRESS = "InProgress"
ASSET_COMPLETE = "Complete"
ASSET_ERROR = "Error"
ITEM_NOT_YET_DOWNLOADED = "NotYetDownloaded"

# What a check finds, in the core's words (each face names them its own way).
NO_ITEMS = "no_items"
ADDRESS_INCOMPLETE = "address_incomplete"  # line 1, town, postal code and country are needed
ITEMS_HAVE_ERRORS = "items_have_errors"
IMAGE_NOT_DOWNLOADED = "image_not_downloaded"  # every attempt failed
IMAGE_UNUSABLE = "image_unusable"  # it arrived and is no printable image
ZERO_COPIES = "zero_copies"
ATTRIBUTE_INVALID = "attribute_invalid"
IMAGE_TOO_SMALL = "image_too_small"  # warning: fewer pixels than the print area wants
CROPPING_WILL_OCCUR = "cropping_will_occur"  # warning
SIZE_NOT_CHECKED_YET = "size_not_checked_yet"  # warning: still downloading
ASPECT_NOT_CHECKED_YET = "aspect_not_checked_yet"  # warning: still downloading

# An image is "too small" when it fills less than this share of the print area in either direction.
SMALL_IMAGE_SHARE = 0.95
# Cropping is reported when more than this share of the image is cut away.
CROP_SHARE = 0.01


class NotADraft(Conflict):
    """The order has been submitted (or cancelled): what only a draft allows is refused."""

    def __init__(self, order_id: int, stage: str) -> None:
        self.order_id, self.stage = order_id, stage
        super().__init__(f"order {order_id} is {stage}, no longer a draft")


class DraftNotValid(Conflict):
    """Submitting a draft that its check finds errors in."""

    def __init__(self, check: DraftCheck) -> None:
        self.check = check
        problems = check.general_errors + [e for item in check.items for e in item.errors]
        super().__init__(f"order {check.order_id} cannot be submitted: {', '.join(problems)}")


@dataclass
class DraftDetails:
    """Everything about a draft but its items; None where not (yet) given."""

    country_code: str
    shipping_method: str
    recipient_name: str | None = None
    line1: str | None = None
    line2: str | None = None
    town_or_city: str | None = None
    state_or_county: str | None = None
    postal_or_zip_code: str | None = None
    email: str | None = None
    phone_number: str | None = None
    merchant_reference: str | None = None
    packing_slip_url: str | None = None
    payment_option: str | None = None


@dataclass
class DraftItem:
    sku: str
    url: str
    copies: int
    sizing: str  # one of domain.SIZINGS
    attributes: dict[str, str] = field(default_factory=dict)
    md5_hash: str | None = None
    recipient_price: Cost | None = None  # what the recipient pays per copy (invoice_recipient only)


@dataclass(frozen=True)
class ItemCheck:
    item_id: int
    errors: list[str]
    warnings: list[str]


@dataclass(frozen=True)
class DraftCheck:
    order_id: int
    general_errors: list[str]
    items: list[ItemCheck]

    @property
    def is_valid(self) -> bool:
        return not self.general_errors and not any(item.errors for item in self.items)


def _check_details(details: DraftDetails, failures: FailureCollector) -> str | None:
    country = check_country(details.country_code, "recipient.address.country_code", failures)
    if details.shipping_method not in SHIPPING_METHODS:
        failures.add("shipping_method", "InvalidValue", details.shipping_method)
    if details.payment_option is not None and details.payment_option not in PAYMENT_OPTIONS:
        failures.add("payment_option", "InvalidValue", details.payment_option)
    if details.packing_slip_url is not None and not is_http_url(details.packing_slip_url):
        failures.add("packing_slip_url", "MustBeAnHttpUrl", details.packing_slip_url)
    for path, text in (("recipient.name", details.recipient_name), ("recipient.address.line1", details.line1),
                       ("recipient.address.line2", details.line2), ("recipient.address.town_or_city", details.town_or_city),
                       ("recipient.address.state_or_county", details.state_or_county),
                       ("recipient.address.postal_or_zip_code", details.postal_or_zip_code),
                       ("recipient.email", details.email), ("recipient.phone_number", details.phone_number),
                       ("merchant_reference", details.merchant_reference)):
        if text is not None:
            failures.storable(path, text)
    return country


def _detail_columns(details: DraftDetails, country: str) -> dict:
    # Address columns hold "" while a draft has no such line yet; faces show that as unset.
    return {
        "merchant_reference": details.merchant_reference,
        "shipping_method": details.shipping_method,
        "recipient_name": details.recipient_name or "",
        "recipient_email": details.email,
        "recipient_phone": details.phone_number,
        "address_line1": details.line1 or "",
        "address_line2": details.line2,
        "address_postal_code": details.postal_or_zip_code or "",
        "address_country_code": country,
        "address_town": details.town_or_city or "",
        "address_state": details.state_or_county,
        "packing_slip_url": details.packing_slip_url,
        "packing_slip_status": "NotYetDownloaded" if details.packing_slip_url else None,
        "payment_option": details.payment_option,
    }


def create_draft(writes: Writes, owner: Owner, details: DraftDetails, *, face: str,
                 render: Callable[[OrderView], bytes], rendition_format: str,
                 failures: FailureCollector | None = None, trace_parent: str | None = None) -> tuple[int, bytes]:
    """A new draft of the owner's, and its rendition in the face's format (stored with it, as a
    placed order's is); `failures` may already hold the face's own shape failures."""
    failures = failures if failures is not None else FailureCollector()
    country = _check_details(details, failures)
    failures.raise_if_any()
    now = utcnow()
    columns = _detail_columns(details, country)
    order_id = repository.insert_order(writes.raw, {
        "merchant_id": owner.merchant_id, "environment": owner.environment, "created_at": now, "updated_at": now,
        "version": 1, "idempotency_key": None, "callback_url": None, "stage": STAGE_DRAFT,
        "download_assets": DETAIL_NOT_STARTED, "print_ready_assets_prepared": DETAIL_NOT_STARTED,
        "allocate_production_location": DETAIL_NOT_STARTED, "in_production": DETAIL_NOT_STARTED,
        "shipping": DETAIL_NOT_STARTED, "metadata_json": None, "due_at": None, "lease_token": None,
        "lease_expires_at": None, "hold_until": None, "submitted_at": None, "files_purged_at": None,
        "sandbox_fault": None, "sandbox_hurry": False,
        "announced_json": orjson.dumps({"stage": STAGE_DRAFT, "downloads": DETAIL_NOT_STARTED, "shipments": {}}).decode(),
        "face": face, "draft_price_json": None, "trace_parent": trace_parent, **columns,
    })
    view = OrderView(
        id=order_id, created=now, last_updated=now, version=1, callback_url=None,
        merchant_reference=columns["merchant_reference"], shipping_method=columns["shipping_method"],
        idempotency_key=None, stage=STAGE_DRAFT, details=StatusDetails(*(DETAIL_NOT_STARTED,) * 5), issues=[],
        recipient=Recipient(columns["recipient_name"], columns["recipient_email"], columns["recipient_phone"], Address(
            columns["address_line1"], columns["address_line2"], columns["address_postal_code"], country,
            columns["address_town"], columns["address_state"])),
        items=[], packing_slip_url=columns["packing_slip_url"], packing_slip_status=columns["packing_slip_status"],
        metadata_json=None, payment_option=columns["payment_option"],
    )
    body = render(view)
    repository.store_rendition(writes.raw, order_id, rendition_format, 1, body)
    return order_id, body


def _draft(session: Session, owner: Owner, order_id: int) -> None:
    stage = session.execute(
        select(orders_t.c.stage).where(orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
                                       orders_t.c.environment == owner.environment).with_for_update()
    ).scalar_one_or_none()
    if stage is None:
        raise EntityNotFound(f"order {order_id} not found")
    if stage != STAGE_DRAFT:
        raise NotADraft(order_id, stage)


def _touch(session: Session, order_id: int, **values) -> None:
    session.execute(update(orders_t).where(orders_t.c.id == order_id)
                    .values(version=orders_t.c.version + 1, updated_at=utcnow(), **values))
    order_changed(session, order_id)


def update_draft(session: Session, owner: Owner, order_id: int, details: DraftDetails, catalog: Catalog,
                 failures: FailureCollector | None = None) -> None:
    """Replace everything but the items: what is not given is unset."""
    failures = failures if failures is not None else FailureCollector()
    country = _check_details(details, failures)
    _draft(session, owner, order_id)
    failures.raise_if_any()
    _touch(session, order_id, **_detail_columns(details, country))
    reprice_draft(session, order_id, catalog)


def _default_print_area(product: Product) -> str:
    required = [name for name, needed in product.print_areas.items() if needed]
    return (required or list(product.print_areas) or ["default"])[0]


def add_items(session: Session, owner: Owner, order_id: int, items: list[DraftItem | None], catalog: Catalog,
              failures: FailureCollector | None = None) -> list[int]:
    """Add items, each with one image, and start fetching the images; the new items' ids.

    All or nothing: one bad item refuses the lot. A None is an item the face could not read (its
    failures are already in `failures`), kept so that later items' failures name their place.
    Attributes are kept as given when the catalogue does not know them; the check reports them.
    """
    failures = failures if failures is not None else FailureCollector()
    _draft(session, owner, order_id)
    products = []
    for i, item in enumerate(items):
        if item is None:
            products.append(None)
            continue
        product = catalog.product(item.sku)
        if product is None:
            failures.add(f"items[{i}].sku", "SkuNotFound", item.sku)
        products.append(product)
        if item.copies < 0:
            failures.add(f"items[{i}].copies", "MustNotBeNegative", item.copies)
        if item.sizing not in SIZINGS:
            failures.add(f"items[{i}].sizing", "InvalidValue", item.sizing)
        if not is_http_url(item.url):
            failures.add(f"items[{i}].url", "MustBeAnHttpUrl", item.url)
        if item.md5_hash is not None and not is_md5_hash(item.md5_hash):
            failures.add(f"items[{i}].md5_hash", "MustBeAnMd5Hash", item.md5_hash)
        failures.storable(f"items[{i}].url", item.url)
    failures.raise_if_any()
    position = session.execute(select(func.count()).select_from(items_t).where(items_t.c.order_id == order_id)).scalar_one()
    item_ids = []
    for offset, (item, product) in enumerate(zip(items, products, strict=True)):
        attributes = {}
        for name, value in item.attributes.items():
            canonical = product.canonical_attribute_name(name)
            attributes[canonical or name] = (product.canonical_attribute_value(canonical, value) if canonical else None) or value
        item_id = session.execute(insert(items_t).returning(items_t.c.id).values(
            order_id=order_id, position=position + offset, merchant_reference=None, sku=product.sku, copies=item.copies,
            sizing=item.sizing, attributes_json=orjson.dumps(attributes).decode(),
            recipient_cost_amount=item.recipient_price.amount if item.recipient_price else None,
            recipient_cost_currency=item.recipient_price.currency if item.recipient_price else None,
            status=ITEM_NOT_YET_DOWNLOADED,
        )).scalar_one()
        session.execute(insert(assets_t).values(
            item_id=item_id, order_id=order_id, position=0, print_area=_default_print_area(product), url=item.url,
            md5_hash=item.md5_hash.lower() if item.md5_hash else None, status=ASSET_IN_PROGRESS, thumbnail_url=None,
            attempts=0, next_attempt_at=None, original_format=None, original_width=None, original_height=None,
            original_bytes=None, downloaded_at=None, prepared_at=None, thumbnail_token=None,
        ))
        item_ids.append(item_id)
    # Due now: the workers fetch the new images while the merchant goes on building the order.
    _touch(session, order_id, due_at=utcnow())
    reprice_draft(session, order_id, catalog)
    return item_ids


def reprice_draft(session: Session, order_id: int, catalog: Catalog) -> None:
    """Keep the draft's price current: what its items and shipping would cost, if a lab can make them."""
    order = session.execute(
        select(orders_t.c.address_country_code, orders_t.c.shipping_method, Merchant.billing_currency)
        .join(Merchant, Merchant.id == orders_t.c.merchant_id).where(orders_t.c.id == order_id)
    ).one()
    lines = [BasketLine(r.sku, r.copies) for r in session.execute(
        select(items_t.c.sku, items_t.c.copies).where(items_t.c.order_id == order_id).order_by(items_t.c.position))]
    price = None
    if lines and all(line.copies > 0 and catalog.product(line.sku) is not None for line in lines):
        try:
            allocation = allocate(catalog, lines, order.address_country_code, order.shipping_method,
                                  order.billing_currency)
        except NotAllocatable:
            allocation = None
        if allocation is not None:
            currency = allocation.currency
            per_item = [Decimal(0)] * len(lines)
            for line in allocation.lines:
                per_item[line.position] += line.unit_cost * line.copies
            price = orjson.dumps({"items": money_string(allocation.items_total, currency),
                                  "shipping": money_string(allocation.shipping_total, currency),
                                  "per_item": [money_string(amount, currency) for amount in per_item],
                                  "currency": currency}).decode()
    session.execute(update(orders_t).where(orders_t.c.id == order_id).values(draft_price_json=price))


def check_draft(session: Session, owner: Owner, order_id: int, catalog: Catalog) -> DraftCheck:
    """Every problem the draft has now, without raising: the order's and each item's."""
    order = session.execute(
        select(orders_t).where(orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
                               orders_t.c.environment == owner.environment)
    ).mappings().one_or_none()
    if order is None:
        raise EntityNotFound(f"order {order_id} not found")
    items = session.execute(select(items_t).where(items_t.c.order_id == order_id).order_by(items_t.c.position)).mappings().all()
    assets = {r["item_id"]: r for r in session.execute(
        select(assets_t).where(assets_t.c.order_id == order_id).order_by(assets_t.c.position)).mappings()}
    unusable = set(session.execute(select(issues_t.c.asset_id).where(
        issues_t.c.order_id == order_id, issues_t.c.error_code == ISSUE_IMAGE_UNUSABLE)).scalars())
    general = []
    if not items:
        general.append(NO_ITEMS)
    if not (order["address_line1"] and order["address_town"] and order["address_postal_code"]
            and order["address_country_code"]):
        general.append(ADDRESS_INCOMPLETE)
    checks = []
    for item in items:
        errors, warnings = _check_item(item, assets.get(item["id"]), catalog.product(item["sku"]), unusable)
        checks.append(ItemCheck(item["id"], errors, warnings))
    if any(c.errors for c in checks):
        general.append(ITEMS_HAVE_ERRORS)
    return DraftCheck(order_id, general, checks)


def _chosen_attributes(product: Product, attributes: dict) -> tuple[dict[str, str], bool]:
    chosen, valid = {}, True
    for name, value in attributes.items():
        canonical = product.canonical_attribute_name(name)
        canonical_value = product.canonical_attribute_value(canonical, value) if canonical else None
        if canonical_value is None:
            valid = False
        else:
            chosen[canonical] = canonical_value
    return chosen, valid and all(name in chosen for name in product.attributes)


def _check_item(item, asset, product: Product | None, unusable: set[int]) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    if item["copies"] < 1:
        errors.append(ZERO_COPIES)
    variant = None
    if product is None:
        errors.append(ATTRIBUTE_INVALID)  # the SKU left the catalogue since it was added
    else:
        chosen, valid = _chosen_attributes(product, orjson.loads(item["attributes_json"]))
        variant = product.variant_for(chosen) if valid else None
        if variant is None:
            errors.append(ATTRIBUTE_INVALID)
    if asset is None:
        return errors, warnings
    if asset["status"] == ASSET_ERROR:
        errors.append(IMAGE_UNUSABLE if asset["id"] in unusable else IMAGE_NOT_DOWNLOADED)
    elif asset["status"] != ASSET_COMPLETE or not asset["original_width"]:
        warnings += [SIZE_NOT_CHECKED_YET, ASPECT_NOT_CHECKED_YET]
    elif variant is not None and asset["print_area"] in variant.print_area_sizes:
        size = variant.print_area_sizes[asset["print_area"]]
        plan = geometry.plan(asset["original_width"], asset["original_height"], size.horizontal, size.vertical,
                             item["sizing"])
        used_width, used_height = plan.crop.width, plan.crop.height
        if used_width < size.horizontal * SMALL_IMAGE_SHARE or used_height < size.vertical * SMALL_IMAGE_SHARE:
            warnings.append(IMAGE_TOO_SMALL)
        if 1 - (used_width * used_height) / (asset["original_width"] * asset["original_height"]) > CROP_SHARE:
            warnings.append(CROPPING_WILL_OCCUR)
    return errors, warnings


@dataclass(frozen=True)
class Submitted:
    stage: str  # InProgress, OnHold (the merchant's pause window) or AwaitingPayment


def submit_draft(session: Session, owner: Owner, order_id: int, catalog: Catalog, public_base_url: str,
                 announcer: Announcer | None) -> Submitted:
    """Check the draft, then start it as placing an order would; labs are allocated at once."""
    _draft(session, owner, order_id)
    check = check_draft(session, owner, order_id, catalog)
    if not check.is_valid:
        raise DraftNotValid(check)
    terms = session.execute(
        select(Merchant.billing_currency, Merchant.pause_seconds, Merchant.pause_indefinite, Merchant.pays_per_order)
        .where(Merchant.id == owner.merchant_id)).one()
    now = utcnow()
    hold_until = None
    if terms.pause_indefinite or terms.pause_seconds:
        stage = STAGE_ON_HOLD
        hold_until = None if terms.pause_indefinite else now + timedelta(seconds=terms.pause_seconds)
        due_at, submitted_at = hold_until, None
    elif terms.pays_per_order:
        stage, due_at, submitted_at = STAGE_AWAITING_PAYMENT, None, None
    else:
        stage, due_at, submitted_at = STAGE_IN_PROGRESS, now, now
    # The draft's price stays until labs are allocated: a paused or unpaid order has no charges yet.
    _touch(session, order_id, stage=stage, due_at=due_at, submitted_at=submitted_at, hold_until=hold_until)
    order = session.execute(select(orders_t.c.address_country_code, orders_t.c.shipping_method)
                            .where(orders_t.c.id == order_id)).one()
    if stage == STAGE_IN_PROGRESS:
        try:
            with session.begin_nested():
                allocate_order(session, order_id, catalog)
        except NotAllocatable:
            failures = FailureCollector()
            failures.add("shipping_method", "NotAvailableForDestination", order.shipping_method)
            failures.raise_if_any()
    elif stage == STAGE_AWAITING_PAYMENT:
        request_payment(session, order_id, catalog, order.address_country_code, order.shipping_method,
                        terms.billing_currency, public_base_url)
    refresh_status(session, order_id, announcer)
    return Submitted(stage)
