"""Photobook spine width: cover allowance plus pages times the paper thickness used for the
destination."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from printwork.core.catalog.domain import Catalog
from printwork.core.errors import FailureCollector
from printwork.core.orders.rules import check_country


def spine_width_mm(
    catalog: Catalog, sku: str | None, country_code: str | None, pages: int | None, failures: FailureCollector
) -> Decimal:
    product = catalog.product(sku) if sku else None
    if sku and product is None:
        failures.add("sku", "SkuNotFound", sku)
    elif product is not None and product.spine is None:
        failures.add("sku", "NotABook", product.sku)
    country = check_country(country_code, "destination_country_code", failures) if country_code else None
    spine = product.spine if product is not None else None
    if spine is not None and pages is not None and not spine.min_pages <= pages <= spine.max_pages:
        failures.add("number_of_pages", f"MustBeBetween{spine.min_pages}And{spine.max_pages}", pages)
    if spine is not None and country is not None and not any(country in v.ships_to for v in product.variants):
        failures.add("destination_country_code", "NotAvailableForDestination", country)
    failures.raise_if_any()
    thickness = spine.page_thickness_mm_by_country.get(country, spine.page_thickness_mm)
    return (spine.cover_allowance_mm + thickness * pages).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
