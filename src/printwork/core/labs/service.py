"""What a lab does through the lab-facing API: see its work, fetch print files, report progress.

Only live shipments reach real labs; sandbox ones are made by the simulated lab in the pipeline.
Every change locks the order row first (as the pipeline's fence does), so a lab report and a
pipeline step on the same order never interleave.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer
from printwork.core.errors import Conflict, CoreError, EntityNotFound, FailureCollector
from printwork.core.labs.models import LabKey
from printwork.core.merchants.service import hash_key, utcnow
from printwork.core.orders.domain import Address, Recipient
from printwork.core.orders.repository import (
    assets_t,
    items_t,
    orders_t,
    shipment_items_t,
    shipments_t,
)
from printwork.core.labs.shipments import mark_in_production, mark_shipped, tracking_url
from printwork.core.orders.progress import (
    LAB_CANCELLED,
    LAB_IN_PRODUCTION,
    LAB_REJECTED,
    LAB_SHIPPED,
    LAB_SUBMITTED,
    refresh_status,
)

LIVE = "live"
LAB_STAGES_BY_LOWER = {s.lower(): s for s in (LAB_SUBMITTED, LAB_IN_PRODUCTION, LAB_SHIPPED)}


@dataclass(frozen=True)
class IssuedLabKey:
    lab_code: str
    key: str
    prefix: str


def create_lab_key(session: Session, lab_code: str, known_labs: set[str]) -> IssuedLabKey:
    if lab_code not in known_labs:
        raise CoreError(f"no lab {lab_code!r} in the catalogue (labs: {', '.join(sorted(known_labs))})")
    key = f"pw_lab_{secrets.token_urlsafe(30)}"
    prefix = key[:14]
    session.add(LabKey(lab_code=lab_code, key_hash=hash_key(key), key_prefix=prefix, created_at=utcnow()))
    session.flush()
    return IssuedLabKey(lab_code, key, prefix)


def revoke_lab_key(session: Session, prefix: str) -> int:
    return session.execute(
        update(LabKey).where(LabKey.key_prefix == prefix, LabKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    ).rowcount


def lab_for_key(session: Session, key: str) -> str | None:
    return session.execute(
        select(LabKey.lab_code).where(LabKey.key_hash == hash_key(key), LabKey.revoked_at.is_(None))
    ).scalar_one_or_none()


@dataclass(frozen=True)
class LabAsset:
    id: int
    print_area: str
    prepared: bool
    original_format: str | None


@dataclass(frozen=True)
class LabItem:
    id: int
    sku: str
    copies: int
    attributes: dict
    assets: list[LabAsset]


@dataclass(frozen=True)
class LabShipment:
    id: int
    order_id: int
    stage: str
    shipping_method: str
    carrier: str
    service: str
    submitted_at: datetime | None
    tracking_number: str | None
    tracking_url: str | None
    recipient: Recipient
    packing_slip_url: str | None
    items: list[LabItem]


def shipments_for_lab(session: Session, lab_code: str, stages: tuple[str, ...], shipment_id: int | None = None,
                      limit: int = 100) -> list[LabShipment]:
    query = (
        select(shipments_t, orders_t.c.recipient_name, orders_t.c.recipient_email, orders_t.c.recipient_phone,
               orders_t.c.address_line1, orders_t.c.address_line2, orders_t.c.address_postal_code,
               orders_t.c.address_country_code, orders_t.c.address_town, orders_t.c.address_state,
               orders_t.c.packing_slip_url)
        .join(orders_t, orders_t.c.id == shipments_t.c.order_id)
        .where(shipments_t.c.lab_code == lab_code, shipments_t.c.lab_stage.in_(stages), orders_t.c.environment == LIVE)
        .order_by(shipments_t.c.id).limit(limit)
    )
    if shipment_id is not None:
        query = query.where(shipments_t.c.id == shipment_id)
    rows = session.execute(query).mappings().all()
    result = []
    for row in rows:
        items = []
        for item in session.execute(
            select(items_t.c.id, items_t.c.sku, items_t.c.copies, items_t.c.attributes_json)
            .join(shipment_items_t, shipment_items_t.c.item_id == items_t.c.id)
            .where(shipment_items_t.c.shipment_id == row["id"]).order_by(items_t.c.position)
        ):
            assets = [
                LabAsset(a.id, a.print_area, a.prepared_at is not None, a.original_format)
                for a in session.execute(
                    select(assets_t.c.id, assets_t.c.print_area, assets_t.c.prepared_at, assets_t.c.original_format)
                    .where(assets_t.c.item_id == item.id).order_by(assets_t.c.position)
                )
            ]
            items.append(LabItem(item.id, item.sku, item.copies, orjson.loads(item.attributes_json), assets))
        result.append(LabShipment(
            id=row["id"], order_id=row["order_id"], stage=row["lab_stage"], shipping_method=row["shipping_method"],
            carrier=row["carrier"], service=row["service"], submitted_at=row["submitted_at"],
            tracking_number=row["tracking_number"], tracking_url=row["tracking_url"],
            recipient=Recipient(row["recipient_name"], row["recipient_email"], row["recipient_phone"], Address(
                row["address_line1"], row["address_line2"], row["address_postal_code"], row["address_country_code"],
                row["address_town"], row["address_state"])),
            packing_slip_url=row["packing_slip_url"], items=items,
        ))
    return result


def print_file_owner(session: Session, lab_code: str, asset_id: int) -> tuple[int, str] | None:
    """(order id, original format) if the asset is in a live shipment this lab has been sent."""
    row = session.execute(
        select(assets_t.c.order_id, assets_t.c.original_format)
        .join(shipment_items_t, shipment_items_t.c.item_id == assets_t.c.item_id)
        .join(shipments_t, shipments_t.c.id == shipment_items_t.c.shipment_id)
        .join(orders_t, orders_t.c.id == assets_t.c.order_id)
        .where(assets_t.c.id == asset_id, assets_t.c.prepared_at.is_not(None), shipments_t.c.lab_code == lab_code,
               shipments_t.c.lab_stage.in_((LAB_SUBMITTED, LAB_IN_PRODUCTION, LAB_SHIPPED)),
               orders_t.c.environment == LIVE)
    ).first()
    return (row[0], row[1]) if row else None


def _locked_shipment(session: Session, lab_code: str, shipment_id: int):
    order_id = session.execute(
        select(shipments_t.c.order_id).join(orders_t, orders_t.c.id == shipments_t.c.order_id)
        .where(shipments_t.c.id == shipment_id, shipments_t.c.lab_code == lab_code, orders_t.c.environment == LIVE)
    ).scalar_one_or_none()
    if order_id is None:
        raise EntityNotFound(f"no shipment {shipment_id} for lab {lab_code}")
    session.execute(select(orders_t.c.id).where(orders_t.c.id == order_id).with_for_update())
    return session.execute(select(shipments_t).where(shipments_t.c.id == shipment_id)).mappings().one()


def report_in_production(session: Session, lab_code: str, shipment_id: int, announcer: Announcer | None) -> None:
    shipment = _locked_shipment(session, lab_code, shipment_id)
    stage = shipment["lab_stage"]
    if stage == LAB_IN_PRODUCTION:
        return  # a repeated report changes nothing
    if stage != LAB_SUBMITTED:
        raise Conflict(f"shipment is {stage}; only a submitted shipment can go into production")
    mark_in_production(session, shipment_id, utcnow())
    refresh_status(session, shipment["order_id"], announcer)


@dataclass(frozen=True)
class ShipmentReport:
    tracking_number: str
    tracking_url: str | None
    carrier: str | None
    service: str | None


def checked_shipment_report(tracking_number: Any, tracking_url: Any, carrier: Any, service: Any) -> ShipmentReport:
    """What a lab reports of a shipment it sent, checked the same way whoever reports it (the lab
    API, an operator in the dashboard); ValidationFailed names every problem."""
    failures = FailureCollector()
    fields: dict[str, str | None] = {}
    for name, value, required in (("tracking_number", tracking_number, True), ("tracking_url", tracking_url, False),
                                  ("carrier", carrier, False), ("service", service, False)):
        if value is None:
            if required:
                failures.add(name, "Required", None)
        elif not isinstance(value, str) or not value.strip() or len(value) > 500:
            failures.add(name, "MustBeAString", value)
            value = None
        elif not failures.storable(name, value):
            value = None
        fields[name] = value.strip() if isinstance(value, str) else None
    if fields["tracking_url"] and not fields["tracking_url"].lower().startswith(("http://", "https://")):
        failures.add("tracking_url", "MustBeAnHttpUrl", fields["tracking_url"])
    failures.raise_if_any()
    return ShipmentReport(fields["tracking_number"], fields["tracking_url"], fields["carrier"], fields["service"])


def report_shipped(session: Session, lab_code: str, shipment_id: int, *, tracking_number: str,
                   tracking_link: str | None, carrier: str | None, service: str | None,
                   announcer: Announcer | None) -> None:
    shipment = _locked_shipment(session, lab_code, shipment_id)
    stage = shipment["lab_stage"]
    if stage == LAB_SHIPPED:
        if shipment["tracking_number"] == tracking_number:
            return
        raise Conflict(f"shipment was already reported shipped with tracking number {shipment['tracking_number']}")
    if stage in (LAB_CANCELLED, LAB_REJECTED):
        raise Conflict(f"shipment is {stage} and must not be sent")
    link = tracking_link or tracking_url(carrier or shipment["carrier"], tracking_number)
    mark_shipped(session, shipment_id, utcnow(), tracking_number=tracking_number, tracking_url=link,
                 carrier=carrier, service=service)
    refresh_status(session, shipment["order_id"], announcer)
