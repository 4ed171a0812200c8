"""Import, export and read the catalogue. Services flush; the caller's boundary commits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from printwork.core.catalog import models as m
from printwork.core.catalog.document import CatalogDocument
from printwork.core.catalog.domain import (
    Catalog,
    Lab,
    PrintAreaSize,
    Product,
    ShippingRate,
    SpineSpec,
    Variant,
)
from printwork.core.countries import COUNTRY_CODES

Progress = Callable[[str], None]


def import_catalog(session: Session, doc: CatalogDocument, progress: Progress | None = None) -> int:
    """Replace the whole catalogue with `doc`; returns the new revision."""
    step = progress or (lambda _label: None)
    for table in (m.ShippingRate, m.LabProduct, m.Lab, m.Variant, m.Product, m.ShippingZone, m.ExchangeRate):
        session.execute(delete(table))

    base = doc.baseCurrency.upper()
    rates = {c.upper(): r for c, r in doc.exchangeRates.items()}
    rates[base] = Decimal(1)
    session.add_all(m.ExchangeRate(currency=c, rate=r) for c, r in rates.items())
    zones = {name: sorted({c.upper() for c in countries}) for name, countries in doc.zones.items()}
    session.add_all(m.ShippingZone(name=n, countries=c) for n, c in zones.items())

    for product in doc.products:
        session.add(
            m.Product(
                sku=product.sku,
                description=product.description,
                category=product.category,
                width=product.productDimensions.width,
                height=product.productDimensions.height,
                units=product.productDimensions.units,
                attributes=product.attributes,
                print_areas={name: area.required for name, area in product.printAreas.items()},
                available=product.available,
                spine=product.spine.model_dump(mode="json") if product.spine else None,
            )
        )
        step(f"product {product.sku}")
    session.flush()

    for lab in doc.labs:
        session.add(
            m.Lab(code=lab.code, name=lab.name, country_code=lab.countryCode.upper(), currency=lab.currency.upper())
        )
        session.flush()
        session.add_all(m.LabProduct(lab_code=lab.code, sku=sku.upper(), unit_cost=cost) for sku, cost in lab.products.items())
        session.add_all(
            m.ShippingRate(
                lab_code=lab.code,
                destination=r.destination if (r.destination == "*" or r.destination in zones) else r.destination.upper(),
                method=r.method.capitalize(),
                cost=r.cost,
                carrier=r.carrier,
                service=r.service,
                tracked=r.tracked,
                min_days=r.minDays,
                max_days=r.maxDays,
            )
            for r in lab.shipping
        )
        step(f"lab {lab.code}")
    session.flush()

    # shipsTo, when the document leaves it out, is every country some lab making the SKU reaches.
    snapshot = load_catalog(session, revision=-1, base_currency=base, with_variants=False)
    for product in doc.products:
        reachable = snapshot.reachable_countries(product.sku, COUNTRY_CODES)
        for position, variant in enumerate(product.variants):
            ships_to = sorted({c.upper() for c in variant.shipsTo}) if variant.shipsTo is not None else sorted(reachable)
            session.add(
                m.Variant(
                    sku=product.sku,
                    position=position,
                    attributes=variant.attributes,
                    ships_to=ships_to,
                    print_area_sizes={k: v.model_dump() for k, v in variant.printAreaSizes.items()},
                )
            )
    meta = session.get(m.CatalogMeta, 1)
    if meta is None:
        meta = m.CatalogMeta(id=1, revision=0, base_currency=base)
        session.add(meta)
        session.flush()
    revision = meta.revision + 1
    session.execute(update(m.CatalogMeta).where(m.CatalogMeta.id == 1).values(revision=revision, base_currency=base))
    session.flush()
    step("done")
    return revision


def catalog_revision(session: Session) -> int | None:
    return session.execute(select(m.CatalogMeta.revision).where(m.CatalogMeta.id == 1)).scalar()


def load_catalog(session: Session, *, revision: int, base_currency: str, with_variants: bool = True) -> Catalog:
    variants: dict[str, list[Variant]] = {}
    if with_variants:
        for row in session.execute(select(m.Variant).order_by(m.Variant.sku, m.Variant.position)).scalars():
            variants.setdefault(row.sku, []).append(
                Variant(
                    attributes=dict(row.attributes),
                    ships_to=frozenset(row.ships_to),
                    print_area_sizes={
                        k: PrintAreaSize(v["horizontalResolution"], v["verticalResolution"])
                        for k, v in row.print_area_sizes.items()
                    },
                )
            )
    products = {}
    for row in session.execute(select(m.Product)).scalars():
        spine = None
        if row.spine:
            spine = SpineSpec(
                min_pages=row.spine["minPages"],
                max_pages=row.spine["maxPages"],
                cover_allowance_mm=Decimal(str(row.spine["coverAllowanceMm"])),
                page_thickness_mm=Decimal(str(row.spine["pageThicknessMm"])),
                page_thickness_mm_by_country={
                    k.upper(): Decimal(str(v)) for k, v in row.spine.get("pageThicknessMmByCountry", {}).items()
                },
            )
        products[row.sku] = Product(
            sku=row.sku,
            description=row.description,
            category=row.category,
            width=row.width,
            height=row.height,
            units=row.units,
            attributes={k: tuple(v) for k, v in row.attributes.items()},
            print_areas=dict(row.print_areas),
            variants=tuple(variants.get(row.sku, ())),
            available=row.available,
            spine=spine,
        )
    unit_costs: dict[str, dict[str, Decimal]] = {}
    for row in session.execute(select(m.LabProduct)).scalars():
        unit_costs.setdefault(row.lab_code, {})[row.sku] = row.unit_cost
    rates: dict[str, list[ShippingRate]] = {}
    for row in session.execute(select(m.ShippingRate).order_by(m.ShippingRate.id)).scalars():
        rates.setdefault(row.lab_code, []).append(
            ShippingRate(
                lab_code=row.lab_code,
                destination=row.destination,
                method=row.method,
                cost=row.cost,
                carrier=row.carrier,
                service=row.service,
                tracked=row.tracked,
                min_days=row.min_days,
                max_days=row.max_days,
            )
        )
    labs = {
        row.code: Lab(
            code=row.code,
            name=row.name,
            country_code=row.country_code,
            currency=row.currency,
            unit_costs=unit_costs.get(row.code, {}),
            rates=tuple(rates.get(row.code, ())),
        )
        for row in session.execute(select(m.Lab).order_by(m.Lab.code)).scalars()
    }
    zones = {row.name: frozenset(row.countries) for row in session.execute(select(m.ShippingZone)).scalars()}
    exchange = {row.currency: row.rate for row in session.execute(select(m.ExchangeRate)).scalars()}
    return Catalog(
        revision=revision,
        base_currency=base_currency,
        products=products,
        labs=labs,
        zones=zones,
        exchange_rates=exchange,
    )


def export_catalog(session: Session) -> dict:
    """The catalogue as a document that `import_catalog` accepts unchanged."""
    meta = session.get(m.CatalogMeta, 1)
    catalog = load_catalog(session, revision=meta.revision if meta else 0, base_currency=meta.base_currency if meta else "GBP")

    def num(value: Decimal) -> str:
        return format(value.normalize(), "f")

    return {
        "baseCurrency": catalog.base_currency,
        "exchangeRates": {c: num(r) for c, r in sorted(catalog.exchange_rates.items()) if c != catalog.base_currency},
        "zones": {name: sorted(countries) for name, countries in sorted(catalog.zones.items())},
        "products": [
            {
                "sku": p.sku,
                "description": p.description,
                "category": p.category,
                "productDimensions": {"width": num(p.width), "height": num(p.height), "units": p.units},
                "attributes": {k: list(v) for k, v in p.attributes.items()},
                "printAreas": {k: {"required": v} for k, v in p.print_areas.items()},
                "available": p.available,
                **(
                    {
                        "spine": {
                            "minPages": p.spine.min_pages,
                            "maxPages": p.spine.max_pages,
                            "coverAllowanceMm": num(p.spine.cover_allowance_mm),
                            "pageThicknessMm": num(p.spine.page_thickness_mm),
                            "pageThicknessMmByCountry": {
                                k: num(v) for k, v in sorted(p.spine.page_thickness_mm_by_country.items())
                            },
                        }
                    }
                    if p.spine
                    else {}
                ),
                "variants": [
                    {
                        "attributes": dict(v.attributes),
                        "shipsTo": sorted(v.ships_to),
                        "printAreaSizes": {
                            k: {"horizontalResolution": s.horizontal, "verticalResolution": s.vertical}
                            for k, s in v.print_area_sizes.items()
                        },
                    }
                    for v in p.variants
                ],
            }
            for p in sorted(catalog.products.values(), key=lambda p: p.sku)
        ],
        "labs": [
            {
                "code": lab.code,
                "name": lab.name,
                "countryCode": lab.country_code,
                "currency": lab.currency,
                "products": {sku: num(cost) for sku, cost in sorted(lab.unit_costs.items())},
                "shipping": [
                    {
                        "destination": r.destination,
                        "method": r.method,
                        "cost": num(r.cost),
                        "carrier": r.carrier,
                        "service": r.service,
                        "tracked": r.tracked,
                        "minDays": r.min_days,
                        "maxDays": r.max_days,
                    }
                    for r in lab.rates
                ],
            }
            for lab in catalog.labs.values()
        ],
    }


def _revision_statement():
    return select(m.CatalogMeta.revision, m.CatalogMeta.base_currency).where(m.CatalogMeta.id == 1)


class CatalogCache:
    """One immutable Catalog per revision, shared by every request of a process.

    Each use asks the database for the current revision (one indexed row), so an import made by
    any process is seen by the next request everywhere.
    """

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def for_writes(self, writes) -> Catalog:
        """The catalogue as of this write transaction, looked up once for all its units."""
        catalog = writes.memo.get("catalog")
        if catalog is None:
            row = writes.raw.execute("catalog-revision", _revision_statement, {}).fetchone()
            catalog = writes.memo["catalog"] = self._current(writes.session, row)
        return catalog

    def get(self, session: Session) -> Catalog:
        return self._current(session, session.execute(_revision_statement()).first())

    def current(self, database) -> Catalog:
        """For read-only requests: the revision check is one precompiled query."""
        rows = database.fast.fetch_all("catalog-revision", _revision_statement, {})
        meta = rows[0] if rows else None
        current = self._catalog
        if current is not None and meta is not None and current.revision == meta[0]:
            return current
        with database.read() as session:
            return self._current(session, meta)

    def _current(self, session: Session, meta) -> Catalog:
        revision, base = (meta[0], meta[1]) if meta else (0, "GBP")
        current = self._catalog
        if current is not None and current.revision == revision:
            return current
        with self._lock:
            if self._catalog is None or self._catalog.revision != revision:
                self._catalog = load_catalog(session, revision=revision, base_currency=base)
            return self._catalog
