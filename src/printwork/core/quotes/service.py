"""Quotes: what a basket would cost, per shipping method, priced exactly as an order would be."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal

from printwork.core.catalog.domain import SHIPPING_METHODS, Catalog
from printwork.core.countries import is_currency
from printwork.core.errors import FailureCollector
from printwork.core.orders.domain import NewItem
from printwork.core.orders.rules import check_country, check_items
from printwork.core.pricing.allocation import Allocation, BasketLine, NotAllocatable, allocate_each

US_SALES_TAX_WARNING = "us_sales_tax_not_included"
METHOD_UNAVAILABLE = "shipping_method_unavailable"


@dataclass
class QuoteRequest:
    shipping_method: str | None  # None: quote every method
    destination_country_code: str
    currency_code: str | None  # None: the merchant's billing currency
    items: list[NewItem]


@dataclass(frozen=True)
class QuoteIssue:
    error_code: str
    description: str


@dataclass
class QuoteResult:
    currency: str
    item_ids: list[list[str]]  # per quote, per requested item: each quote's items have ids of their own
    allocations: list[Allocation]
    issues: list[QuoteIssue] = field(default_factory=list)


def create_quotes(
    request: QuoteRequest, catalog: Catalog, billing_currency: str, failures: FailureCollector
) -> QuoteResult:
    """Check the request (adding to `failures`, raised together), then price it per method."""
    method = request.shipping_method
    if method is not None and method not in SHIPPING_METHODS:
        failures.add("shipping_method", "InvalidValue", method)
        method = None
    country = check_country(request.destination_country_code, "destination_country_code", failures)
    currency = (request.currency_code or billing_currency).upper()
    if request.currency_code is not None and not is_currency(request.currency_code):
        failures.add("currency_code", "InvalidCurrencyCode", request.currency_code)
    elif currency not in catalog.exchange_rates:
        failures.add("currency_code", "UnsupportedCurrency", request.currency_code or currency)
    methods = (method,) if method else SHIPPING_METHODS
    check_items(request.items, catalog, country, methods, failures)
    failures.raise_if_any()

    lines = [BasketLine(item.sku, item.copies) for item in request.items]
    allocations, issues = [], []
    for candidate, allocation in zip(methods, allocate_each(catalog, lines, country, methods, currency)):
        if isinstance(allocation, NotAllocatable):
            # Only reachable when quoting every method: each item has at least one (checked).
            issues.append(QuoteIssue(METHOD_UNAVAILABLE, f"{candidate} shipping is not available to {country} for every item."))
        else:
            allocations.append(allocation)
    if not allocations:
        failures.add("destination_country_code", "NotAvailableForDestination", country)
        failures.raise_if_any()
    if country == "US":
        issues.append(QuoteIssue(US_SALES_TAX_WARNING, "Prices may be subject to US sales tax, which is not included."))
    item_ids = [[f"qit_{os.urandom(16).hex()}" for _ in request.items] for _ in allocations]
    return QuoteResult(currency, item_ids, allocations, issues)


def unit_prices(catalog: Catalog, skus: list[str], country_code: str, currency: str,
                failures: FailureCollector) -> list[tuple[str, Decimal]]:
    """(canonical SKU, what one copy costs to make) for each SKU sent to `country_code`, in
    `currency`, shipping left out: the cheapest lab that can send it there by some method, priced
    as an order's item would be. Unknown SKUs and SKUs nobody can send there are failures."""
    country = check_country(country_code, "destination_country_code", failures)
    products = []
    for i, sku in enumerate(skus):
        product = catalog.product(sku)
        if product is None:
            failures.add(f"skus[{i}]", "SkuNotFound", sku)
        products.append(product)
    failures.raise_if_any()
    prices = []
    for i, product in enumerate(products):
        options = [a for a in allocate_each(catalog, [BasketLine(product.sku, 1)], country, SHIPPING_METHODS, currency)
                   if not isinstance(a, NotAllocatable)]
        if not options:
            failures.add(f"skus[{i}]", "NotAvailableForDestination", product.sku)
        else:
            prices.append((product.sku, min(a.items_total for a in options)))
    failures.raise_if_any()
    return prices
