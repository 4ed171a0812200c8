"""The rules a new order must meet against the catalogue: pure, no database, no HTTP.

Failure paths name the core's own fields, snake_case as in domain.py
(`recipient.address.country_code`, `items[0].assets[1].print_area`; attribute names as given);
each face maps them onto its wire names (v4 `recipient.address.countryCode`, v3 `countryCode`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from printwork.core.catalog.domain import SHIPPING_METHODS, Catalog
from printwork.core.countries import is_country, is_currency
from printwork.core.errors import FailureCollector
from printwork.core.orders.domain import METADATA_MAX_CHARS, SIZINGS, NewItem, NewOrder


MAX_AMOUNT = Decimal(10) ** 12
IDEMPOTENCY_KEY_MAX_CHARS = 500
_HEX = frozenset("0123456789abcdefABCDEF")


def is_http_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def is_md5_hash(text: str) -> bool:
    return len(text) == 32 and all(c in _HEX for c in text)


def check_metadata(metadata_json: str | None, failures: FailureCollector) -> None:
    """Metadata, as compact JSON text, is limited in size on every face, on create and on update."""
    if metadata_json is not None and len(metadata_json) > METADATA_MAX_CHARS:
        failures.add("metadata", "MaxLengthExceeded", len(metadata_json))


def canonical_amount(value: object) -> str | None:
    """A non-negative, finite decimal as a canonical string with at least two places, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT or amount.as_tuple().exponent < -6:
        return None
    if amount.as_tuple().exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return format(amount, "f")


def check_new_order(order: NewOrder, catalog: Catalog, failures: FailureCollector) -> None:
    """Adds a failure for every rule `order` breaks; canonicalises SKUs, attributes and print areas."""
    method_ok = order.shipping_method in SHIPPING_METHODS
    if not method_ok:
        failures.add("shipping_method", "InvalidValue", order.shipping_method)
    country = check_country(order.recipient.address.country_code, "recipient.address.country_code", failures)
    check_metadata(order.metadata_json, failures)
    if order.callback_url is not None and not is_http_url(order.callback_url):
        failures.add("callback_url", "MustBeAnHttpUrl", order.callback_url)
    if order.idempotency_key is not None and len(order.idempotency_key) > IDEMPOTENCY_KEY_MAX_CHARS:
        failures.add("idempotency_key", "MaxLengthExceeded", len(order.idempotency_key))
    for i, item in enumerate(order.items):
        for j, asset in enumerate(item.assets):
            if not is_http_url(asset.url):
                failures.add(f"items[{i}].assets[{j}].url", "MustBeAnHttpUrl", asset.url)
            if asset.md5_hash is not None:
                if is_md5_hash(asset.md5_hash):
                    asset.md5_hash = asset.md5_hash.lower()
                else:
                    failures.add(f"items[{i}].assets[{j}].md5_hash", "MustBeAnMd5Hash", asset.md5_hash)
        if item.sizing not in SIZINGS:
            failures.add(f"items[{i}].sizing", "InvalidValue", item.sizing)
        if item.recipient_cost is not None and not is_currency(item.recipient_cost.currency):
            failures.add(f"items[{i}].recipient_cost.currency", "InvalidCurrencyCode", item.recipient_cost.currency)
    check_items(order.items, catalog, country, (order.shipping_method,) if method_ok else (), failures)


def check_country(code: str, path: str, failures: FailureCollector) -> str | None:
    """The upper-case ISO 3166 alpha-2 code, or None after adding a failure."""
    if not is_country(code) or len(code) != 2:
        failures.add(path, "InvalidCountryCode", code)
        return None
    return code.upper()


def check_items(
    items: list[NewItem], catalog: Catalog, country: str | None, methods: tuple[str, ...], failures: FailureCollector
) -> None:
    """The item rules orders and quotes share: SKU, copies, attributes, print areas, and that
    some lab can send each item to `country` by one of `methods` (all failing -> a failure)."""
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if item.copies < 1:
            failures.add(f"{where}.copies", "MustBeGreaterThanZero", item.copies)
        product = catalog.product(item.sku)
        if product is None:
            failures.add(f"{where}.sku", "SkuNotFound", item.sku)
            continue
        item.sku = product.sku

        chosen: dict[str, str] = {}
        for name, value in item.attributes.items():
            canonical_name = product.canonical_attribute_name(name)
            if canonical_name is None:
                failures.add(f"{where}.attributes.{name}", "NotValidForProduct", value)
                continue
            canonical_value = product.canonical_attribute_value(canonical_name, value)
            if canonical_value is None:
                failures.add(f"{where}.attributes.{name}", "InvalidValue", value)
                continue
            chosen[canonical_name] = canonical_value
        for name in product.attributes:
            if name not in chosen and not any(n.lower() == name.lower() for n in item.attributes):
                failures.add(f"{where}.attributes.{name}", "Required", None)

        seen_areas: set[str] = set()
        for j, asset in enumerate(item.assets):
            area = product.canonical_print_area(asset.print_area)
            if area is None:
                failures.add(f"{where}.assets[{j}].print_area", "NotValidForProduct", asset.print_area)
                continue
            if area in seen_areas:
                failures.add(f"{where}.assets[{j}].print_area", "Duplicate", asset.print_area)
            seen_areas.add(area)
            asset.print_area = area
        for area, required in product.print_areas.items():
            if required and area not in seen_areas:
                failures.add(f"{where}.assets", "RequiredPrintAreaMissing", area)

        if country is None or len(chosen) != len(product.attributes):
            continue
        variant = product.variant_for(chosen)
        if variant is None or country not in variant.ships_to:
            failures.add(f"{where}.sku", "NotAvailableForDestination", product.sku)
        elif len(methods) == 1 and not catalog.can_ship(product.sku, country, methods[0]):
            failures.add("shipping_method", "NotAvailableForDestination", methods[0])
        elif methods and not any(catalog.can_ship(product.sku, country, m) for m in methods):
            failures.add(f"{where}.sku", "NotAvailableForDestination", product.sku)


def unavailable_item_positions(order: NewOrder, catalog: Catalog) -> list[int]:
    """Items whose SKU is in the catalogue but marked unavailable: created, with an issue."""
    return [i for i, item in enumerate(order.items) if (p := catalog.product(item.sku)) is not None and not p.available]
