"""An order's progress, read from the database, and what the merchant sees of it.

`derive_status` computes the five `details`, the stage and the item statuses from the assets and
shipments; they are never set by hand, so they cannot drift (documents, "Status" and "The order
process"; INVENTORY §3.2). `refresh_status` writes what it derives. The pipeline
(core/process) decides what to do next from the same state; actions, labs and the sandbox
controls change an order and refresh it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer, announce
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import (
    STAGE_CANCELLED,
    STAGE_COMPLETE,
    STAGE_IN_PROGRESS,
)
from printwork.core.orders.renditions import order_changed
from printwork.core.orders.repository import assets_t, issues_t, items_t, orders_t, shipments_t

log = logging.getLogger(__name__)

NOT_STARTED = "NotStarted"
IN_PROGRESS = "InProgress"
COMPLETE = "Complete"
ERROR = "Error"

ASSET_IN_PROGRESS = "InProgress"
ASSET_COMPLETE = "Complete"
ASSET_ERROR = "Error"

ITEM_NOT_YET_DOWNLOADED = "NotYetDownloaded"
ITEM_OK = "Ok"
ITEM_INVALID = "Invalid"

# Where a shipment is with its lab; the wire status shows Processing until Shipped.
LAB_ALLOCATED = "Allocated"
LAB_SUBMITTED = "Submitted"
LAB_IN_PRODUCTION = "InProduction"
LAB_SHIPPED = "Shipped"
LAB_REJECTED = "Rejected"
LAB_CANCELLED = "Cancelled"

SHIPMENT_PROCESSING = "Processing"
SHIPMENT_SHIPPED = "Shipped"
SHIPMENT_CANCELLED = "Cancelled"

DOWNLOAD_ATTEMPTS = 10  # "We attempt to download an asset 10 times"

FAULT_ASSET_DOWNLOAD = "assetDownload"
FAULT_LAB_SUBMISSION = "labSubmission"
FAULTS = (FAULT_ASSET_DOWNLOAD, FAULT_LAB_SUBMISSION)


@dataclass(frozen=True)
class AssetState:
    id: int
    item_id: int
    position: int
    print_area: str
    url: str
    md5_hash: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    original_format: str | None
    prepared_at: datetime | None


@dataclass(frozen=True)
class ItemState:
    id: int
    sku: str
    sizing: str
    attributes_json: str
    status: str


@dataclass(frozen=True)
class ShipmentState:
    id: int
    lab_code: str
    lab_stage: str
    lab_due_at: datetime | None


@dataclass(frozen=True)
class OrderState:
    id: int
    merchant_id: int
    environment: str
    stage: str
    download_assets: str
    allocate_production_location: str
    print_ready_assets_prepared: str
    in_production: str
    shipping: str
    hold_until: datetime | None
    submitted_at: datetime | None
    files_purged_at: datetime | None
    sandbox_fault: str | None
    sandbox_hurry: bool
    items: tuple[ItemState, ...]
    assets: tuple[AssetState, ...]
    shipments: tuple[ShipmentState, ...]
    face: str | None = None
    trace_parent: str | None = None  # of the request that made the order, for the logs of its jobs

    @property
    def is_sandbox(self) -> bool:
        return self.environment == "sandbox"


def load_state(session: Session, order_id: int) -> OrderState | None:
    row = session.execute(select(orders_t).where(orders_t.c.id == order_id)).mappings().first()
    if row is None:
        return None
    items = tuple(
        ItemState(r.id, r.sku, r.sizing, r.attributes_json, r.status)
        for r in session.execute(
            select(items_t.c.id, items_t.c.sku, items_t.c.sizing, items_t.c.attributes_json, items_t.c.status)
            .where(items_t.c.order_id == order_id).order_by(items_t.c.position)
        )
    )
    assets = tuple(
        AssetState(r.id, r.item_id, r.position, r.print_area, r.url, r.md5_hash, r.status, r.attempts,
                   r.next_attempt_at, r.original_format, r.prepared_at)
        for r in session.execute(
            select(assets_t.c.id, assets_t.c.item_id, assets_t.c.position, assets_t.c.print_area, assets_t.c.url,
                   assets_t.c.md5_hash, assets_t.c.status, assets_t.c.attempts, assets_t.c.next_attempt_at,
                   assets_t.c.original_format, assets_t.c.prepared_at)
            .where(assets_t.c.order_id == order_id).order_by(assets_t.c.item_id, assets_t.c.position)
        )
    )
    shipments = tuple(
        ShipmentState(r.id, r.lab_code, r.lab_stage, r.lab_due_at)
        for r in session.execute(
            select(shipments_t.c.id, shipments_t.c.lab_code, shipments_t.c.lab_stage, shipments_t.c.lab_due_at)
            .where(shipments_t.c.order_id == order_id).order_by(shipments_t.c.position)
        )
    )
    return OrderState(
        id=row["id"], merchant_id=row["merchant_id"], environment=row["environment"], stage=row["stage"],
        download_assets=row["download_assets"], allocate_production_location=row["allocate_production_location"],
        print_ready_assets_prepared=row["print_ready_assets_prepared"], in_production=row["in_production"],
        shipping=row["shipping"], hold_until=row["hold_until"], submitted_at=row["submitted_at"],
        files_purged_at=row["files_purged_at"], sandbox_fault=row["sandbox_fault"],
        sandbox_hurry=bool(row["sandbox_hurry"]), items=items, assets=assets, shipments=shipments,
        face=row["face"], trace_parent=row["trace_parent"],
    )


def active_shipments(state: OrderState) -> list[ShipmentState]:
    return [s for s in state.shipments if s.lab_stage != LAB_CANCELLED]


@dataclass(frozen=True)
class DerivedStatus:
    stage: str
    download_assets: str
    print_ready_assets_prepared: str
    in_production: str
    shipping: str
    item_statuses: dict[int, str]


def derive_status(state: OrderState) -> DerivedStatus:
    assets = state.assets
    if any(a.status == ASSET_ERROR for a in assets):
        download = ERROR
    elif all(a.status == ASSET_COMPLETE for a in assets) and (assets or state.allocate_production_location == COMPLETE):
        download = COMPLETE
    elif any(a.status == ASSET_COMPLETE or a.attempts > 0 for a in assets):
        download = IN_PROGRESS
    else:
        download = state.download_assets if state.download_assets in (NOT_STARTED, IN_PROGRESS) else NOT_STARTED

    allocated = state.allocate_production_location == COMPLETE
    prepared = [a for a in assets if a.prepared_at is not None]
    if allocated and len(prepared) == len(assets):
        print_ready = COMPLETE
    elif prepared:
        print_ready = IN_PROGRESS
    else:
        print_ready = NOT_STARTED

    active = active_shipments(state)
    shipped = [s for s in active if s.lab_stage == LAB_SHIPPED]
    if any(s.lab_stage == LAB_REJECTED for s in active):
        in_production = ERROR
    elif active and len(shipped) == len(active):
        in_production = COMPLETE
    elif any(s.lab_stage != LAB_ALLOCATED for s in active):
        in_production = IN_PROGRESS
    else:
        in_production = NOT_STARTED
    if active and len(shipped) == len(active):
        shipping = COMPLETE
    elif shipped:
        shipping = IN_PROGRESS
    else:
        shipping = NOT_STARTED

    stage = state.stage
    if stage == STAGE_IN_PROGRESS and state.shipments:
        if not active:
            stage = STAGE_CANCELLED
        elif len(shipped) == len(active):
            stage = STAGE_COMPLETE

    item_statuses = {}
    for item in state.items:
        own = [a for a in assets if a.item_id == item.id]
        if any(a.status == ASSET_ERROR for a in own):
            item_statuses[item.id] = ITEM_INVALID
        elif all(a.status == ASSET_COMPLETE for a in own) and (own or download == COMPLETE):
            item_statuses[item.id] = ITEM_OK
        else:
            item_statuses[item.id] = ITEM_NOT_YET_DOWNLOADED
    return DerivedStatus(stage, download, print_ready, in_production, shipping, item_statuses)



# --- status -------------------------------------------------------------------------------

def refresh_status(session: Session, order_id: int, announcer: Announcer | None) -> OrderState | None:
    """Re-derive what the merchant sees from assets and shipments; the order's version moves,
    and any change callbacks are about is announced. Returns the order as it now is."""
    state = load_state(session, order_id)
    if state is None:
        return None
    derived = derive_status(state)
    if derived.stage != state.stage:
        log.info("order %s: %s -> %s", order_id, state.stage, derived.stage)
    session.execute(
        update(orders_t).where(orders_t.c.id == order_id).values(
            stage=derived.stage,
            download_assets=derived.download_assets,
            print_ready_assets_prepared=derived.print_ready_assets_prepared,
            in_production=derived.in_production,
            shipping=derived.shipping,
            version=orders_t.c.version + 1,
            updated_at=utcnow(),
        )
    )
    order_changed(session, order_id)
    for item in state.items:
        status = derived.item_statuses[item.id]
        if status != item.status:
            session.execute(update(items_t).where(items_t.c.id == item.id).values(status=status))
    announce(session, order_id, announcer)  # writes only what callbacks last saw, not the state
    return replace(
        state, stage=derived.stage, download_assets=derived.download_assets,
        print_ready_assets_prepared=derived.print_ready_assets_prepared, in_production=derived.in_production,
        shipping=derived.shipping,
        items=tuple(replace(item, status=derived.item_statuses[item.id]) for item in state.items))


def add_issue(session: Session, order_id: int, object_id: str, code: str, description: str, **extra) -> None:
    session.execute(insert(issues_t).values(order_id=order_id, object_id=object_id, error_code=code,
                                            description=description, created_at=utcnow(), **extra))
