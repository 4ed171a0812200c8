"""What the pipeline should do with an order now, and when it will next have work.

`next_action` and `next_due` are pure rules over the order's progress as
core/orders/progress.py reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from printwork.core.orders.domain import STAGE_DRAFT, STAGE_IN_PROGRESS, STAGE_ON_HOLD
from printwork.core.orders.progress import (
    ASSET_ERROR,
    ASSET_IN_PROGRESS,
    LAB_ALLOCATED,
    LAB_IN_PRODUCTION,
    LAB_SUBMITTED,
    COMPLETE,
    ERROR,
    OrderState,
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
