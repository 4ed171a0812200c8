"""Merchants and their API keys. A key is shown once, when made; only its hash is kept."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    session: Session, name: str, environment: str, billing_currency: str | None = None, key_name: str | None = None
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
    return _issue_key(session, merchant.id, merchant.name, environment, key_name)


def _issue_key(session: Session, merchant_id: int, merchant_name: str, environment: str,
               key_name: str | None) -> IssuedKey:
    if key_name is not None:
        key_name = key_name.strip()
        if not key_name or len(key_name) > 100:
            raise InvalidMerchantInput("a key's name has 1 to 100 characters")
    key = f"pw_{environment}_{secrets.token_urlsafe(30)}"
    prefix = key[: len(environment) + 10]
    session.add(ApiKey(merchant_id=merchant_id, environment=environment, key_hash=hash_key(key), key_prefix=prefix,
                       created_at=utcnow(), name=key_name))
    session.flush()
    return IssuedKey(merchant_id, merchant_name, environment, key, prefix)


def issue_key(session: Session, merchant_id: int, environment: str, key_name: str) -> IssuedKey:
    """A new named key for an existing merchant (the dashboard's "create key")."""
    if environment not in ENVIRONMENTS:
        raise InvalidMerchantInput(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    name = session.execute(select(Merchant.name).where(Merchant.id == merchant_id)).scalar_one_or_none()
    if name is None:
        raise EntityNotFound(f"merchant {merchant_id} not found")
    return _issue_key(session, merchant_id, name, environment, key_name)


@dataclass(frozen=True)
class KeyLine:
    id: int
    name: str | None
    prefix: str
    environment: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def merchant_keys(session: Session, merchant_id: int, environment: str | None = None) -> list[KeyLine]:
    query = select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.id.desc())
    if environment is not None:
        query = query.where(ApiKey.environment == environment)
    return [KeyLine(k.id, k.name, k.key_prefix, k.environment, k.created_at, k.last_used_at, k.revoked_at)
            for k in session.execute(query).scalars()]


def revoke_merchant_key(session: Session, merchant_id: int, key_id: int) -> None:
    """Revoke one of the merchant's own keys; another merchant's key id is EntityNotFound."""
    revoked = session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.merchant_id == merchant_id,
                                                   ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())).rowcount
    if not revoked:
        raise EntityNotFound(f"no active key {key_id}")


# A key's last use is written at most this often, so busy keys cost no write per request.
LAST_USE_GRANULARITY = timedelta(minutes=1)


def note_key_used(session: Session, key: str) -> None:
    now = utcnow()
    session.execute(update(ApiKey).where(
        ApiKey.key_hash == hash_key(key),
        (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USE_GRANULARITY),
    ).values(last_used_at=now))


def owner_for_key(session: Session, key: str) -> Owner | None:
    found = key_owner_and_use(session, key)
    return found[0] if found else None


def key_owner_and_use(session: Session, key: str) -> tuple[Owner, bool] | None:
    """The live key's owner, and whether its last use is older than LAST_USE_GRANULARITY
    (then the caller notes this use with `note_key_used`)."""
    row = session.execute(
        select(ApiKey.merchant_id, ApiKey.environment, ApiKey.last_used_at).where(
            ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Owner(row[0], row[1]), row[2] is None or row[2] < utcnow() - LAST_USE_GRANULARITY


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


@dataclass(frozen=True)
class MerchantTerms:
    name: str
    billing_currency: str
    settings: MerchantSettings


def merchant_terms(session: Session, merchant_id: int) -> MerchantTerms:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise EntityNotFound(f"merchant {merchant_id} not found")
    return MerchantTerms(merchant.name, merchant.billing_currency, MerchantSettings(
        merchant.pause_seconds, merchant.pause_indefinite, merchant.pays_per_order, merchant.default_callback_url))


def update_settings(session: Session, name: str, *, pause_seconds: int | None = None, pause_indefinite: bool = False,
                    no_pause: bool = False, pays_per_order: bool | None = None,
                    callback_url: str | None = None, billing_currency: str | None = None) -> MerchantSettings:
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
        if callback_url and not callback_url.lower().startswith(("http://", "https://")):
            raise InvalidMerchantInput(f"{callback_url!r} is not an http(s) URL")
        merchant.default_callback_url = callback_url or None
    if billing_currency is not None:
        if not is_currency(billing_currency):
            raise InvalidMerchantInput(f"{billing_currency!r} is not an ISO 4217 currency")
        merchant.billing_currency = billing_currency.upper()
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


# How long the replaced secret still signs callbacks after a rotation, so a receiver can move to
# the new one without rejecting anything in between.
SECRET_ROTATION_OVERLAP = timedelta(hours=24)


def callback_secret(session: Session, name: str, *, rotate: bool = False,
                    overlap: timedelta = SECRET_ROTATION_OVERLAP) -> str:
    merchant = session.execute(select(Merchant).where(Merchant.name == name)).scalar_one_or_none()
    if merchant is None:
        raise CoreError(f"no merchant named {name!r}")
    if rotate:
        previous = ensure_signing_secret(session, merchant.id)
        session.refresh(merchant)
        merchant.previous_callback_secret = previous if overlap > timedelta(0) else None
        merchant.previous_callback_secret_until = utcnow() + overlap if overlap > timedelta(0) else None
        merchant.callback_secret = new_signing_secret()
        session.flush()
        return merchant.callback_secret
    return ensure_signing_secret(session, merchant.id)


@dataclass(frozen=True)
class SecretState:
    current: str
    previous_until: datetime | None  # while the replaced secret still signs too


def secret_state(session: Session, merchant_id: int) -> SecretState:
    current = ensure_signing_secret(session, merchant_id)
    until = session.execute(select(Merchant.previous_callback_secret_until)
                            .where(Merchant.id == merchant_id)).scalar_one()
    return SecretState(current, until if until is not None and until > utcnow() else None)
