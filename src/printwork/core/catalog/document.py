"""The catalogue document operators import and export (JSON or YAML), and its validation.

Every problem is reported with the path of the offending value, all at once, so an operator can
fix a file in one pass.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from printwork.core.catalog.domain import SHIPPING_METHODS
from printwork.core.countries import COUNTRY_CODES, is_currency


class CatalogDocumentError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the catalogue is not valid:\n" + "\n".join(f"  - {p}" for p in problems))


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Dimensions(_Doc):
    width: Decimal = Field(gt=0)
    height: Decimal = Field(gt=0)
    units: str = Field(pattern=r"^(in|cm|mm)$")


class PrintAreaDoc(_Doc):
    required: bool


class PrintAreaSizeDoc(_Doc):
    horizontalResolution: int = Field(gt=0)
    verticalResolution: int = Field(gt=0)


class VariantDoc(_Doc):
    attributes: dict[str, str] = Field(default_factory=dict)
    shipsTo: list[str] | None = None
    printAreaSizes: dict[str, PrintAreaSizeDoc]


class SpineDoc(_Doc):
    minPages: int = Field(gt=0)
    maxPages: int = Field(gt=0)
    coverAllowanceMm: Decimal = Field(ge=0)
    pageThicknessMm: Decimal = Field(gt=0)
    pageThicknessMmByCountry: dict[str, Decimal] = Field(default_factory=dict)


class ProductDoc(_Doc):
    sku: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1)
    category: str = Field(min_length=1)
    productDimensions: Dimensions
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    printAreas: dict[str, PrintAreaDoc]
    variants: list[VariantDoc] = Field(min_length=1)
    available: bool = True
    spine: SpineDoc | None = None

    @field_validator("sku")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class RateDoc(_Doc):
    destination: str
    method: str
    cost: Decimal = Field(ge=0)
    carrier: str = Field(min_length=1)
    service: str = Field(min_length=1)
    tracked: bool
    minDays: int = Field(ge=0)
    maxDays: int = Field(ge=0)


class LabDoc(_Doc):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1)
    countryCode: str
    currency: str
    products: dict[str, Decimal]
    shipping: list[RateDoc] = Field(min_length=1)


class CatalogDocument(_Doc):
    baseCurrency: str = "GBP"
    exchangeRates: dict[str, Decimal] = Field(default_factory=dict)
    zones: dict[str, list[str]] = Field(default_factory=dict)
    products: list[ProductDoc] = Field(min_length=1)
    labs: list[LabDoc] = Field(min_length=1)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_catalog_document(raw: Any) -> CatalogDocument:
    """Validate a decoded JSON/YAML value; raises CatalogDocumentError listing every problem."""
    try:
        doc = CatalogDocument.model_validate(raw)
    except ValidationError as exc:
        raise CatalogDocumentError([f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]) from None
    problems = list(_semantic_problems(doc))
    if problems:
        raise CatalogDocumentError(problems)
    return doc


def _semantic_problems(doc: CatalogDocument):
    base = doc.baseCurrency.upper()
    if not is_currency(base):
        yield f"baseCurrency: {doc.baseCurrency!r} is not an ISO 4217 currency"
    for currency, rate in doc.exchangeRates.items():
        if not is_currency(currency):
            yield f"exchangeRates.{currency}: not an ISO 4217 currency"
        if rate <= 0:
            yield f"exchangeRates.{currency}: must be greater than 0"
    known_currencies = {c.upper() for c in doc.exchangeRates} | {base}

    for name, countries in doc.zones.items():
        if name == "*" or len(name) == 2:
            yield f"zones.{name}: a zone name must not look like a country code or be '*'"
        for i, country in enumerate(countries):
            if country.upper() not in COUNTRY_CODES:
                yield f"zones.{name}[{i}]: {country!r} is not an ISO 3166 country code"

    skus: set[str] = set()
    for p_index, product in enumerate(doc.products):
        where = f"products[{p_index}] ({product.sku})"
        if product.sku in skus:
            yield f"{where}.sku: duplicate SKU"
        skus.add(product.sku)
        for attr, values in product.attributes.items():
            if not values:
                yield f"{where}.attributes.{attr}: needs at least one value"
            if len({v.lower() for v in values}) != len(values):
                yield f"{where}.attributes.{attr}: values must differ other than by case"
        seen_combinations: set[tuple] = set()
        for v_index, variant in enumerate(product.variants):
            vwhere = f"{where}.variants[{v_index}]"
            if set(variant.attributes) != set(product.attributes):
                yield f"{vwhere}.attributes: must name exactly the product's attributes {sorted(product.attributes)}"
            for attr, value in variant.attributes.items():
                if attr in product.attributes and value not in product.attributes[attr]:
                    yield f"{vwhere}.attributes.{attr}: {value!r} is not one of {product.attributes[attr]}"
            combination = tuple(sorted(variant.attributes.items()))
            if combination in seen_combinations:
                yield f"{vwhere}.attributes: the same combination appears twice"
            seen_combinations.add(combination)
            missing = set(product.printAreas) - set(variant.printAreaSizes)
            extra = set(variant.printAreaSizes) - set(product.printAreas)
            if missing:
                yield f"{vwhere}.printAreaSizes: no size for print area(s) {sorted(missing)}"
            if extra:
                yield f"{vwhere}.printAreaSizes: unknown print area(s) {sorted(extra)}"
            for i, country in enumerate(variant.shipsTo or ()):
                if country.upper() not in COUNTRY_CODES:
                    yield f"{vwhere}.shipsTo[{i}]: {country!r} is not an ISO 3166 country code"
        expected = 1
        for values in product.attributes.values():
            expected *= len(values)
        if product.attributes and len(seen_combinations) != expected:
            yield f"{where}.variants: {len(seen_combinations)} variants for {expected} attribute combinations"
        if product.spine is not None:
            if product.spine.minPages > product.spine.maxPages:
                yield f"{where}.spine: minPages is greater than maxPages"
            for country in product.spine.pageThicknessMmByCountry:
                if country.upper() not in COUNTRY_CODES:
                    yield f"{where}.spine.pageThicknessMmByCountry.{country}: not an ISO 3166 country code"

    lab_codes: set[str] = set()
    made: set[str] = set()
    for l_index, lab in enumerate(doc.labs):
        where = f"labs[{l_index}] ({lab.code})"
        if lab.code in lab_codes:
            yield f"{where}.code: duplicate lab code"
        lab_codes.add(lab.code)
        if lab.countryCode.upper() not in COUNTRY_CODES:
            yield f"{where}.countryCode: {lab.countryCode!r} is not an ISO 3166 country code"
        if not is_currency(lab.currency):
            yield f"{where}.currency: {lab.currency!r} is not an ISO 4217 currency"
        elif lab.currency.upper() not in known_currencies:
            yield f"{where}.currency: no exchange rate for {lab.currency.upper()}"
        for sku, cost in lab.products.items():
            if sku.upper() not in skus:
                yield f"{where}.products.{sku}: no such product in this catalogue"
            if cost < 0:
                yield f"{where}.products.{sku}: cost must not be negative"
            made.add(sku.upper())
        seen_rates: set[tuple[str, str]] = set()
        for r_index, rate in enumerate(lab.shipping):
            rwhere = f"{where}.shipping[{r_index}]"
            dest = rate.destination
            if dest != "*" and dest not in doc.zones and dest.upper() not in COUNTRY_CODES:
                yield f"{rwhere}.destination: {dest!r} is neither a country code, a zone nor '*'"
            if rate.method.capitalize() not in SHIPPING_METHODS:
                yield f"{rwhere}.method: {rate.method!r} is not one of {list(SHIPPING_METHODS)}"
            if rate.minDays > rate.maxDays:
                yield f"{rwhere}: minDays is greater than maxDays"
            key = (dest, rate.method.capitalize())
            if key in seen_rates:
                yield f"{rwhere}: a second rate for {dest} by {rate.method}"
            seen_rates.add(key)
    for sku in sorted(skus - made):
        yield f"products ({sku}): no lab makes this product"


def combinations(attributes: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every variant attribute combination, in a stable order."""
    names = list(attributes)
    return [dict(zip(names, values)) for values in itertools.product(*(attributes[n] for n in names))]
