"""What a merchant needs to talk to the older faces: its merchant id (Pwinty v3.0 and v2.5 send
it with a v4 API key, as the migration guide says) and its legacy Print API credentials.

The Print API credentials are made on first use and are the same on every later look, except
the secret: only its hash is kept, so it is shown when it is made or rotated, never again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwork.core.errors import CoreError
from printwork.core.merchants.models import LegacyCredentials, Merchant
from printwork.core.merchants.service import ENVIRONMENTS, hash_key, utcnow


@dataclass(frozen=True)
class PrintApiCredentials:
    api_key: str
    api_secret: str | None  # only when just made or rotated
    client_code: str
    source_codes: list[str]


@dataclass(frozen=True)
class MerchantCredentials:
    merchant_id: int
    environment: str
    print_api: PrintApiCredentials

    def document(self) -> dict:
        return {"merchantId": str(self.merchant_id), "environment": self.environment, "printApi": {
            "apiKey": self.print_api.api_key, "apiSecret": self.print_api.api_secret,
            "clientCode": self.print_api.client_code, "sourceCodes": self.print_api.source_codes}}


def merchant_credentials(session: Session, name: str, environment: str, *, rotate_secret: bool = False
                         ) -> MerchantCredentials:
    if environment not in ENVIRONMENTS:
        raise CoreError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    merchant_id = session.execute(select(Merchant.id).where(Merchant.name == name)).scalar_one_or_none()
    if merchant_id is None:
        raise CoreError(f"no merchant named {name!r}")
    row = session.execute(select(LegacyCredentials).where(
        LegacyCredentials.merchant_id == merchant_id, LegacyCredentials.environment == environment)
    ).scalar_one_or_none()
    secret = None
    if row is None:
        secret = secrets.token_urlsafe(24)
        prefix = "live" if environment == "live" else "test"
        row = LegacyCredentials(
            merchant_id=merchant_id, environment=environment, api_key=f"pa_{prefix}_{secrets.token_hex(12)}",
            secret_hash=hash_key(secret), client_code=f"C{merchant_id:05d}{'L' if environment == 'live' else 'S'}",
            source_codes_json=orjson.dumps([f"S{merchant_id:05d}"]).decode(), created_at=utcnow())
        session.add(row)
        session.flush()
    elif rotate_secret:
        secret = secrets.token_urlsafe(24)
        row.secret_hash = hash_key(secret)
        row.secret_rotated_at = utcnow()
        session.flush()
    return MerchantCredentials(merchant_id, environment, PrintApiCredentials(
        row.api_key, secret, row.client_code, orjson.loads(row.source_codes_json)))


def existing_credentials(session: Session, merchant_id: int, environment: str) -> PrintApiCredentials | None:
    """The Print API credentials if they were made (the secret is never shown again)."""
    row = session.execute(select(LegacyCredentials).where(
        LegacyCredentials.merchant_id == merchant_id, LegacyCredentials.environment == environment)
    ).scalar_one_or_none()
    if row is None:
        return None
    return PrintApiCredentials(row.api_key, None, row.client_code, orjson.loads(row.source_codes_json))
