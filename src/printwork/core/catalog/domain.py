"""The catalogue as plain, immutable data: what can be made, by whom, shipped where, at what cost.

Loaded from the database once per catalogue revision and shared by every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SHIPPING_METHODS = ("Budget", "Standard", "Express", "Overnight")
SHIPPING_METHODS_BY_LOWER = {m.lower(): m for m in SHIPPING_METHODS}


def _same_ignoring_case(value: str, candidates) -> str | None:
    """The candidate spelled like `value` but for case, in the candidate's own spelling."""
    lowered = value.lower()
    return next((candidate for candidate in candidates if candidate.lower() == lowered), None)


_NOT_REMEMBERED = object()


@dataclass(frozen=True)
class PrintAreaSize:
    horizontal: int
    vertical: int


@dataclass(frozen=True)
class Variant:
    attributes: dict[str, str]
    ships_to: frozenset[str]
    print_area_sizes: dict[str, PrintAreaSize]

    def matches(self, chosen: dict[str, str]) -> bool:
        """`chosen` holds canonical attribute names and values."""
        return all(chosen.get(name) == value for name, value in self.attributes.items())


@dataclass(frozen=True)
class SpineSpec:
    min_pages: int
    max_pages: int
    # Spine width = cover allowance + pages x paper thickness, per destination paper stock.
    cover_allowance_mm: Decimal
    page_thickness_mm: Decimal
    page_thickness_mm_by_country: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Product:
    sku: str
    description: str
    category: str
    width: Decimal
    height: Decimal
    units: str
    attributes: dict[str, tuple[str, ...]]
    print_areas: dict[str, bool]  # name -> required
    variants: tuple[Variant, ...]
    available: bool = True
    spine: SpineSpec | None = None

    def canonical_attribute_name(self, name: str) -> str | None:
        return _same_ignoring_case(name, self.attributes)

    def canonical_attribute_value(self, name: str, value: str) -> str | None:
        return _same_ignoring_case(value, self.attributes.get(name, ()))

    def canonical_print_area(self, name: str) -> str | None:
        return _same_ignoring_case(name, self.print_areas)

    def variant_for(self, chosen: dict[str, str]) -> Variant | None:
        for variant in self.variants:
            if variant.matches(chosen):
                return variant
        return None


@dataclass(frozen=True)
class ShippingRate:
    lab_code: str
    destination: str
    method: str
    cost: Decimal
    carrier: str
    service: str
    tracked: bool
    min_days: int
    max_days: int


@dataclass(frozen=True)
class Lab:
    code: str
    name: str
    country_code: str
    currency: str
    unit_costs: dict[str, Decimal]  # sku -> cost in the lab's currency
    rates: tuple[ShippingRate, ...]


@dataclass(frozen=True, eq=False)
class Catalog:
    revision: int
    base_currency: str
    products: dict[str, Product]
    labs: dict[str, Lab]
    zones: dict[str, frozenset[str]]
    exchange_rates: dict[str, Decimal]  # currency -> units per one base unit
    # Figures derived from the above (converted prices), kept as long as this catalogue is.
    memo: dict = field(default_factory=dict, repr=False)

    def product(self, sku: str) -> Product | None:
        return self.products.get(sku.upper())

    def remembered(self, bucket: str, key, compute, limit: int = 4096):
        """`compute()` remembered under `key` in a bucket of at most `limit` entries (emptied
        when full), for figures whose keys come from what clients send."""
        store = self.memo.setdefault(bucket, {})
        value = store.get(key, _NOT_REMEMBERED)
        if value is _NOT_REMEMBERED:
            if len(store) >= limit:
                store.clear()
            value = store[key] = compute()
        return value

    def rate_for(self, lab: Lab, country_code: str, method: str) -> ShippingRate | None:
        """The lab's rate to a country: an exact country rate beats a zone rate, which beats `*`."""
        key = ("rate", lab.code, country_code, method)
        if key not in self.memo:
            self.memo[key] = self._find_rate(lab, country_code, method)
        return self.memo[key]

    def _find_rate(self, lab: Lab, country_code: str, method: str) -> ShippingRate | None:
        best: ShippingRate | None = None
        best_rank = 99
        for rate in lab.rates:
            if rate.method != method:
                continue
            if rate.destination == country_code:
                rank = 0
            elif rate.destination == "*":
                rank = 2
            elif country_code in self.zones.get(rate.destination, ()):
                rank = 1
            else:
                continue
            if rank < best_rank:
                best, best_rank = rate, rank
        return best

    def labs_making(self, sku: str) -> list[Lab]:
        key = ("labs making", sku)
        if key not in self.memo:
            self.memo[key] = [lab for lab in self.labs.values() if sku in lab.unit_costs]
        return self.memo[key]

    def can_ship(self, sku: str, country_code: str, method: str) -> bool:
        key = ("can ship", sku, country_code, method)
        if key not in self.memo:
            self.memo[key] = any(self.rate_for(lab, country_code, method) for lab in self.labs_making(sku))
        return self.memo[key]

    def reachable_countries(self, sku: str, all_countries: frozenset[str]) -> frozenset[str]:
        reachable: set[str] = set()
        for lab in self.labs_making(sku):
            for rate in lab.rates:
                if rate.destination == "*":
                    return all_countries
                if rate.destination in self.zones:
                    reachable |= self.zones[rate.destination]
                else:
                    reachable.add(rate.destination)
        return frozenset(reachable & all_countries)
