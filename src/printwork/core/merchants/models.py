from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from printwork.db import Base


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    billing_currency: Mapped[str] = mapped_column(String(3), default="GBP")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    # Pause window: new orders wait this long (or, if indefinite, until released) before
    # fulfilment starts, and stay editable meanwhile.
    pause_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pause_indefinite: Mapped[bool] = mapped_column(Boolean, default=False)
    # Pays per order: each order waits for its payment to be authorised.
    pays_per_order: Mapped[bool] = mapped_column(Boolean, default=False)
    # Callbacks go to an order's callbackUrl, else here; each is signed with the secret.
    default_callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_secret: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # After a rotation the old secret signs too, until this time, so receivers can switch over.
    previous_callback_secret: Mapped[str | None] = mapped_column(String(80), nullable=True)
    previous_callback_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    environment: Mapped[str] = mapped_column(String(10))
    # Only a hash is stored; the prefix lets an operator tell keys apart without the secret.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Refreshed when a process looks the key up (at most once per key cache period), so it is
    # as exact as the cache allows.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)


class LegacyCredentials(Base):
    """A merchant's credentials for the legacy Prodigi Print API (HTTP Basic key and secret,
    client code, source codes), one set per environment, made on first use."""

    __tablename__ = "legacy_credentials"
    __table_args__ = (UniqueConstraint("merchant_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    environment: Mapped[str] = mapped_column(String(10))
    api_key: Mapped[str] = mapped_column(String(40), unique=True)
    # Only a hash: the secret is shown when it is made and when it is rotated, never again.
    secret_hash: Mapped[str] = mapped_column(String(64))
    client_code: Mapped[str] = mapped_column(String(20), unique=True)
    source_codes_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
