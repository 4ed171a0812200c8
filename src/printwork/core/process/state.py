"""An order's progress as the pipeline sees it, and the pure rules that read it.

`next_action` says what the pipeline should do now, `next_due` when it will next have work, and
`derive_status` what the merchant sees: the five `details`, the stage and item statuses are
always computed from the assets and shipments, never set by hand, so they cannot drift
(documents, "Status" and "The order process"; INVENTORY §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwork.core.orders.domain import (
    STAGE_CANCELLED,
    STAGE_COMPLETE,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
)
from printwork.core.orders.repository import assets_t, items_t, orders_t, shipments_t

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


# What the pipeline can do next. Each names what it works on; the step re-reads it by id.

@dataclass(frozen=True)
class ReleaseHold:
    pass


@dataclass(frozen=True)
class DownloadAsset:
    asset_id: int


@dataclass(frozen=True)
class Allocate:
    pass


@dataclass(frozen=True)
class PrepareAsset:
    asset_id: int


@dataclass(frozen=True)
class SubmitShipments:
    pass


@dataclass(frozen=True)
class SandboxLabStep:
    shipment_id: int


@dataclass(frozen=True)
class PurgeFiles:
    pass


Action = ReleaseHold | DownloadAsset | Allocate | PrepareAsset | SubmitShipments | SandboxLabStep | PurgeFiles


def _purge_at(state: OrderState, retention: timedelta) -> datetime | None:
    if state.submitted_at is None or state.files_purged_at is not None:
        return None
    return state.submitted_at + retention


def _active_shipments(state: OrderState) -> list[ShipmentState]:
    return [s for s in state.shipments if s.lab_stage != LAB_CANCELLED]


def next_action(state: OrderState, now: datetime, retention: timedelta) -> Action | None:
    """The one thing to do now, in the documents' order; None when there is nothing yet."""
    purge_at = _purge_at(state, retention)
    if purge_at is not None and purge_at <= now:
        return PurgeFiles()
    if state.stage == STAGE_ON_HOLD:
        return ReleaseHold() if state.hold_until is not None and state.hold_until <= now else None
    if state.stage == STAGE_DRAFT:
        # Images are fetched as soon as they are added, so checking a draft reports on the real
        # files; nothing else happens before it is submitted.
        for asset in state.assets:
            if asset.status == ASSET_IN_PROGRESS and (asset.next_attempt_at is None or asset.next_attempt_at <= now):
                return DownloadAsset(asset.id)
        return None
    if state.stage != STAGE_IN_PROGRESS:
        return None  # complete, cancelled, or awaiting payment authorisation
    if any(a.status == ASSET_ERROR for a in state.assets):
        return None  # the merchant must place the item again with a usable file
    waiting = False
    for asset in state.assets:
        if asset.status == ASSET_IN_PROGRESS:
            if asset.next_attempt_at is None or asset.next_attempt_at <= now:
                return DownloadAsset(asset.id)
            waiting = True
    if waiting:
        return None
    if state.allocate_production_location != COMPLETE:
        return Allocate() if state.allocate_production_location != ERROR else None
    for asset in state.assets:
        if asset.prepared_at is None:
            return PrepareAsset(asset.id)
    if any(s.lab_stage == LAB_ALLOCATED for s in state.shipments):
        return SubmitShipments()
    if state.is_sandbox:
        for shipment in state.shipments:
            if shipment.lab_stage in (LAB_SUBMITTED, LAB_IN_PRODUCTION) and (
                state.sandbox_hurry or (shipment.lab_due_at is not None and shipment.lab_due_at <= now)
            ):
                return SandboxLabStep(shipment.id)
    return None


def next_due(state: OrderState, retention: timedelta) -> datetime | None:
    """When the pipeline will next have work of its own on this order; None if it waits on others."""
    times = []
    purge_at = _purge_at(state, retention)
    if purge_at is not None:
        times.append(purge_at)
    if state.stage == STAGE_ON_HOLD and state.hold_until is not None:
        times.append(state.hold_until)
    if state.stage == STAGE_DRAFT:
        times += [a.next_attempt_at for a in state.assets if a.status == ASSET_IN_PROGRESS and a.next_attempt_at]
    if state.stage == STAGE_IN_PROGRESS and not any(a.status == ASSET_ERROR for a in state.assets):
        times += [a.next_attempt_at for a in state.assets if a.status == ASSET_IN_PROGRESS and a.next_attempt_at]
        if state.is_sandbox:
            times += [s.lab_due_at for s in state.shipments
                      if s.lab_stage in (LAB_SUBMITTED, LAB_IN_PRODUCTION) and s.lab_due_at is not None]
    return min(times) if times else None


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

    active = _active_shipments(state)
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

