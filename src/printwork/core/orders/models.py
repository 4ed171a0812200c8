from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from printwork.db import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "environment", "idempotency_key"),
        Index("ix_orders_owner_id", "merchant_id", "environment", "id"),
        Index("ix_orders_owner_reference", "merchant_id", "environment", "merchant_reference"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    environment: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    # Moves on every change; renditions made at an older version are stale.
    version: Mapped[int] = mapped_column(Integer, default=1)
    merchant_reference: Mapped[str | None] = mapped_column(String(500), nullable=True)
    shipping_method: Mapped[str] = mapped_column(String(10))
    idempotency_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    stage: Mapped[str] = mapped_column(String(20))
    download_assets: Mapped[str] = mapped_column(String(12))
    print_ready_assets_prepared: Mapped[str] = mapped_column(String(12))
    allocate_production_location: Mapped[str] = mapped_column(String(12))
    in_production: Mapped[str] = mapped_column(String(12))
    shipping: Mapped[str] = mapped_column(String(12))
    recipient_name: Mapped[str] = mapped_column(Text)
    recipient_email: Mapped[str | None] = mapped_column(Text, nullable=True)
    recipient_phone: Mapped[str | None] = mapped_column(Text, nullable=True)
    address_line1: Mapped[str] = mapped_column(Text)
    address_line2: Mapped[str | None] = mapped_column(Text, nullable=True)
    address_postal_code: Mapped[str] = mapped_column(Text)
    address_country_code: Mapped[str] = mapped_column(String(2))
    address_town: Mapped[str] = mapped_column(Text)
    address_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    packing_slip_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    packing_slip_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Kept as the exact JSON text so numbers, nesting and key order round-trip unchanged.
    metadata_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The order process. `due_at` is when the order next has work the pipeline can do by
    # itself; NULL while it waits on someone else (a lab, a payment, an indefinite hold) or
    # has nothing left. The reconciler re-drives anything overdue whose lease has lapsed.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True, index=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    files_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    # Sandbox controls: a step made to fail, and lab delays skipped.
    sandbox_fault: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sandbox_hurry: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the merchant was last told (stage, shipments, downloads), to know what is news.
    announced_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The API face the order was placed through (api/app.py's face table); its callbacks are
    # rendered by that face, whichever face later reads or changes the order.
    face: Mapped[str] = mapped_column(String(20), default="prodigi_v4", server_default="prodigi_v4")
    # Who pays (domain.PAYMENT_*); NULL: the merchant is invoiced, as v4 orders always are.
    payment_option: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # A draft's price as it stands, {"items": …, "shipping": …, "per_item": […], "currency": …},
    # until labs are allocated (charges say it then); NULL while no lab can make and send it.
    draft_price_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The W3C traceparent of the request that made the order: its jobs log under the same trace.
    trace_parent: Mapped[str | None] = mapped_column(String(55), nullable=True)


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    merchant_reference: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sku: Mapped[str] = mapped_column(String(64))
    copies: Mapped[int] = mapped_column(Integer)
    sizing: Mapped[str] = mapped_column(String(20))
    attributes_json: Mapped[str] = mapped_column(Text)
    recipient_cost_amount: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recipient_cost_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    status: Mapped[str] = mapped_column(String(20))


class OrderAsset(Base):
    __tablename__ = "order_assets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    print_area: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    md5_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    thumbnail_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    original_format: Mapped[str | None] = mapped_column(String(8), nullable=True)
    original_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    prepared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    # The thumbnail is served at a URL holding this random token, so it needs no API key.
    thumbnail_token: Mapped[str | None] = mapped_column(String(40), nullable=True, unique=True)


class OrderIssue(Base):
    __tablename__ = "order_issues"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    object_id: Mapped[str] = mapped_column(String(40))
    error_code: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    # The asset a download issue is about, so its warnings can go once it arrives.
    asset_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # Only RequiresPaymentAuthorisation carries these.
    authorisation_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    payment_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 4), nullable=True)
    payment_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)


class OrderRendition(Base):
    """An order already rendered in one wire format, so reads need not serialise it again.

    A cache, never the truth: it is used only while its version equals the order's.
    """

    __tablename__ = "order_renditions"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class Shipment(Base):
    """Items one lab sends together by one method; made when the order is allocated."""

    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_lab_stage", "lab_code", "lab_stage"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    lab_code: Mapped[str] = mapped_column(String(32))
    lab_country_code: Mapped[str] = mapped_column(String(2))
    shipping_method: Mapped[str] = mapped_column(String(10))
    carrier: Mapped[str] = mapped_column(String(60))
    service: Mapped[str] = mapped_column(String(60))
    tracked: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    dispatch_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    # Where the shipment is with its lab: Allocated, Submitted, InProduction, Shipped,
    # Rejected or Cancelled. The wire `status` only shows Processing, Shipped or Cancelled.
    lab_stage: Mapped[str] = mapped_column(String(20), default="Allocated")
    lab_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    production_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ShipmentItem(Base):
    __tablename__ = "shipment_items"

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), primary_key=True)


class Charge(Base):
    __tablename__ = "charges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    charge_type: Mapped[str] = mapped_column(String(10))
    invoice_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))


class ChargeItem(Base):
    __tablename__ = "charge_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), nullable=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))


class OrderHistory(Base):
    """What happened to an order, in the core's words, for its timeline: every stage, download
    and shipment change `announce` sees, whether or not a callback was owed."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    kind: Mapped[str] = mapped_column(String(20))  # stage, downloads, shipment
    value: Mapped[str] = mapped_column(String(60))
    shipment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
