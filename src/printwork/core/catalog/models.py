from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from printwork.db import Base


class CatalogMeta(Base):
    """Single-row facts about the loaded catalogue; `revision` moves on every import."""

    __tablename__ = "catalog_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    base_currency: Mapped[str] = mapped_column(String(3), default="GBP")


class Product(Base):
    __tablename__ = "catalog_products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    width: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    height: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    units: Mapped[str] = mapped_column(String(8))
    attributes: Mapped[dict] = mapped_column(JSON)
    print_areas: Mapped[dict] = mapped_column(JSON)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    spine: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Variant(Base):
    __tablename__ = "catalog_variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("catalog_products.sku", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict] = mapped_column(JSON)
    ships_to: Mapped[list] = mapped_column(JSON)
    print_area_sizes: Mapped[dict] = mapped_column(JSON)


class Lab(Base):
    __tablename__ = "labs"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country_code: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))


class LabProduct(Base):
    __tablename__ = "lab_products"

    lab_code: Mapped[str] = mapped_column(ForeignKey("labs.code", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("catalog_products.sku", ondelete="CASCADE"), primary_key=True)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 4))


class ShippingZone(Base):
    __tablename__ = "shipping_zones"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    countries: Mapped[list] = mapped_column(JSON)


class ShippingRate(Base):
    __tablename__ = "shipping_rates"
    __table_args__ = (UniqueConstraint("lab_code", "destination", "method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lab_code: Mapped[str] = mapped_column(ForeignKey("labs.code", ondelete="CASCADE"), index=True)
    # A two-letter country code, or the name of a shipping zone.
    destination: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(10))
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    carrier: Mapped[str] = mapped_column(String(60))
    service: Mapped[str] = mapped_column(String(60))
    tracked: Mapped[bool] = mapped_column(Boolean)
    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int] = mapped_column(Integer)


class ExchangeRate(Base):
    """How many units of `currency` one unit of the catalogue's base currency buys."""

    __tablename__ = "exchange_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8))
