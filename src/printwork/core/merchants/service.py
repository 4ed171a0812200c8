"""Merchants and their API keys. A key is shown once, when made; only its hash is kept."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from printwork.core.countries import is_currency
from printwork.core.errors import CoreError, EntityNotFound
from printwork.core.merchants.models import ApiKey, Merchant

ENVIRONMENTS = ("sandbox", "live")


class InvalidMerchantInput(CoreError):
    code = "InvalidMerchantInput"


@dataclass(frozen=True)
class Owner:
    """Whose data a request may see: one merchant in one environment. Sandbox and live never mix."""

    merchant_id: int
    environment: str


@dataclass(frozen=True)
class IssuedKey:
    merchant_id: int
    merchant_name: str
    environment: str
    key: str
    key_prefix: str


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_merchant_key(
    session: Session, name: str, environment: str, billing_currency: str | None = None
) -> IssuedKey:
    """Create the merchant if it is new, then issue it a fresh key for `environment`."""
    name = name.strip()
    if not name:
        raise InvalidMerchantInput("a merchant needs a name")
    if environment not in ENVIRONMENTS:
        raise InvalidMerchantInput(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    if billing_currency is not None and not is_currency(billing_currency):
        raise InvalidMerchantInput(f"{billing_currency!r} is not an ISO 4217 currency")
    merchant = session.execute(select(Merchant).where(Merchant.name == name)).scalar_one_or_none()
    if merchant is None:
        merchant = Merchant(name=name, billing_currency=(billing_currency or "GBP").upper(), created_at=utcnow())
        session.add(merchant)
        session.flush()
    elif billing_currency is not None:
        merchant.billing_currency = billing_currency.upper()
    key = f"pw_{environment}_{secrets.token_urlsafe(30)}"
    prefix = key[: len(environment) + 10]
    session.add(
        ApiKey(
            merchant_id=merchant.id,
            environment=environment,
            key_hash=hash_key(key),
            key_prefix=prefix,
            created_at=utcnow(),
        )
    )
    session.flush()
    return IssuedKey(merchant.id, merchant.name, environment, key, prefix)


def owner_for_key(session: Session, key: str) -> Owner | None:
    row = session.execute(
        select(ApiKey.merchant_id, ApiKey.environment).where(
            ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
        )
    ).first()
    return Owner(row[0], row[1]) if row else None


@dataclass(frozen=True)
class KeySummary:
    prefix: str
    environment: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class MerchantSummary:
    id: int
    name: str
    billing_currency: str
    keys: list[KeySummary]


def list_merchants(session: Session) -> list[MerchantSummary]:
    keys: dict[int, list[KeySummary]] = {}
    for k in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars():
        keys.setdefault(k.merchant_id, []).append(KeySummary(k.key_prefix, k.environment, k.created_at, k.revoked_at))
    return [
        MerchantSummary(mer.id, mer.name, mer.billing_currency, keys.get(mer.id, []))
        for mer in session.execute(select(Merchant).order_by(Merchant.id)).scalars()
    ]


def revoke_key(session: Session, key_or_prefix: str) -> int:
    """Revoke by the full key or by its displayed prefix; returns how many keys were revoked."""
    condition = ApiKey.key_hash == hash_key(key_or_prefix)
    matched = session.execute(select(ApiKey.id).where(condition, ApiKey.revoked_at.is_(None))).scalars().all()
    if not matched:
        matched = session.execute(
            select(ApiKey.id).where(ApiKey.key_prefix == key_or_prefix, ApiKey.revoked_at.is_(None))
        ).scalars().all()
    if not matched:
        raise EntityNotFound(f"no active key matches {key_or_prefix!r}")
    if len(matched) > 1:
        raise InvalidMerchantInput(f"{key_or_prefix!r} matches {len(matched)} keys; give the whole key")
    session.execute(update(ApiKey).where(ApiKey.id.in_(matched)).values(revoked_at=utcnow()))
    return len(matched)


def billing_currency(database, merchant_id: int) -> str:
    rows = database.fast.fetch_all(
        "merchant-billing-currency",
        lambda: select(Merchant.billing_currency).where(Merchant.id == bindparam("merchant_id")),
        {"merchant_id": merchant_id},
    )
    if not rows:
        raise EntityNotFound(f"merchant {merchant_id} not found")
    return rows[0][0]


@dataclass(frozen=True)
class MerchantSettings:
    pause_seconds: int | None
    pause_indefinite: bool
    pays_per_order: bool
    callback_url: str | None


def update_settings(session: Session, name: str, *, pause_seconds: int | None = None, pause_indefinite: bool = False,
                    no_pause: bool = False, pays_per_order: bool | None = None,
                    callback_url: str | None = None) -> MerchantSettings:
    merchant = session.execute(select(Merchant).where(Merchant.name == name)).scalar_one_or_none()
    if merchant is None:
        raise CoreError(f"no merchant named {name!r}")
    if no_pause:
        merchant.pause_seconds, merchant.pause_indefinite = None, False
    elif pause_indefinite:
        merchant.pause_seconds, merchant.pause_indefinite = None, True
    elif pause_seconds is not None:
        merchant.pause_seconds, merchant.pause_indefinite = pause_seconds, False
    if pays_per_order is not None:
        merchant.pays_per_order = pays_per_order
    if callback_url is not None:
        merchant.default_callback_url = callback_url or None
    session.flush()
    return MerchantSettings(merchant.pause_seconds, merchant.pause_indefinite, merchant.pays_per_order,
                            merchant.default_callback_url)


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def ensure_signing_secret(session: Session, merchant_id: int) -> str:
    """The merchant's callback signing secret, made on first use."""
    merchants = Merchant.__table__
    session.execute(update(merchants).where(merchants.c.id == merchant_id, merchants.c.callback_secret.is_(None))
                    .values(callback_secret=new_signing_secret()))
    return session.execute(select(merchants.c.callback_secret).where(merchants.c.id == merchant_id)).scalar_one()


def callback_secret(session: Session, name: str, *, rotate: bool = False) -> str:
    merchant = session.execute(select(Merchant).where(Merchant.name == name)).scalar_one_or_none()
    if merchant is None:
        raise CoreError(f"no merchant named {name!r}")
    if rotate:
        merchant.callback_secret = new_signing_secret()
        session.flush()
        return merchant.callback_secret
    return ensure_signing_secret(session, merchant.id)
