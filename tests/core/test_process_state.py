"""The pure rules of the order process: what is next, when, and what the merchant sees."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from printwork.core.orders.progress import AssetState, ItemState, OrderState, ShipmentState, derive_status
from printwork.core.process.state import (
    Allocate,
    DownloadAsset,
    PrepareAsset,
    PurgeFiles,
    ReleaseHold,
    SandboxLabStep,
    SubmitShipments,
    next_action,
    next_due,
)

NOW = datetime(2026, 12, 1, 12, 0, 0)
RETENTION = timedelta(days=30)


def asset(id=1, item_id=1, status="InProgress", attempts=0, next_at=None, prepared=False):
    return AssetState(id, item_id, 0, "default", "https://x/a.jpg", None, status, attempts, next_at,
                      "jpeg" if status == "Complete" else None, NOW if prepared else None)


def order(*, stage="InProgress", assets=(), shipments=(), allocate="NotStarted", environment="sandbox",
          hold_until=None, submitted_at=NOW, hurry=False, items=None):
    return OrderState(
        id=1, merchant_id=1, environment=environment, stage=stage, download_assets="NotStarted",
        allocate_production_location=allocate, print_ready_assets_prepared="NotStarted", in_production="NotStarted",
        shipping="NotStarted", hold_until=hold_until, submitted_at=submitted_at, files_purged_at=None,
        sandbox_fault=None, sandbox_hurry=hurry,
        items=tuple(items or [ItemState(1, "SKU", "fillPrintArea", "{}", "NotYetDownloaded")]),
        assets=tuple(assets), shipments=tuple(shipments),
    )


def test_the_steps_come_in_the_documented_order():
    assert next_action(order(assets=[asset()]), NOW, RETENTION) == DownloadAsset(1)
    downloaded = [asset(status="Complete", attempts=1)]
    assert next_action(order(assets=downloaded), NOW, RETENTION) == Allocate()
    allocated = order(assets=downloaded, allocate="Complete", shipments=[ShipmentState(7, "gb1", "Allocated", None)])
    assert next_action(allocated, NOW, RETENTION) == PrepareAsset(1)
    prepared = [asset(status="Complete", attempts=1, prepared=True)]
    ready = order(assets=prepared, allocate="Complete", shipments=[ShipmentState(7, "gb1", "Allocated", None)])
    assert next_action(ready, NOW, RETENTION) == SubmitShipments()
    at_lab = order(assets=prepared, allocate="Complete", shipments=[ShipmentState(7, "gb1", "Submitted", NOW)])
    assert next_action(at_lab, NOW, RETENTION) == SandboxLabStep(7)


def test_waits_are_waited_and_reported_as_due_times():
    later = NOW + timedelta(minutes=5)
    retrying = order(assets=[asset(attempts=3, next_at=later)])
    assert next_action(retrying, NOW, RETENTION) is None
    assert next_due(retrying, RETENTION) == later
    at_lab = order(assets=[asset(status="Complete", prepared=True)], allocate="Complete",
                   shipments=[ShipmentState(7, "gb1", "InProduction", later)])
    assert next_action(at_lab, NOW, RETENTION) is None
    assert next_action(dataclasses.replace(at_lab, sandbox_hurry=True), NOW, RETENTION) == SandboxLabStep(7)
    assert next_due(at_lab, RETENTION) == later
    # Live shipments wait for their lab, not for a time.
    live = order(assets=[asset(status="Complete", prepared=True)], allocate="Complete", environment="live",
                 shipments=[ShipmentState(7, "gb1", "Submitted", None)])
    assert next_action(live, NOW, RETENTION) is None and next_due(live, RETENTION) == NOW + RETENTION


def test_holds_payment_errors_and_retention():
    held = order(stage="OnHold", hold_until=NOW + timedelta(hours=1), submitted_at=None, assets=[asset()])
    assert next_action(held, NOW, RETENTION) is None and next_due(held, RETENTION) == NOW + timedelta(hours=1)
    assert next_action(held, NOW + timedelta(hours=1), RETENTION) == ReleaseHold()
    indefinite = order(stage="OnHold", submitted_at=None, assets=[asset()])
    assert next_action(indefinite, NOW, RETENTION) is None and next_due(indefinite, RETENTION) is None
    unpaid = order(stage="AwaitingPayment", submitted_at=None, assets=[asset()])
    assert next_action(unpaid, NOW, RETENTION) is None
    failed = order(assets=[asset(status="Error", attempts=10), asset(id=2)])
    assert next_action(failed, NOW, RETENTION) is None  # nothing more happens to an order with a failed asset
    assert next_action(failed, NOW + RETENTION, RETENTION) == PurgeFiles()


@pytest.mark.parametrize("lab_stages, expected", [
    (["Allocated", "Allocated"], ("InProgress", "NotStarted", "NotStarted")),
    (["Submitted", "Allocated"], ("InProgress", "InProgress", "NotStarted")),
    (["Shipped", "InProduction"], ("InProgress", "InProgress", "InProgress")),
    (["Shipped", "Shipped"], ("Complete", "Complete", "Complete")),
    (["Shipped", "Cancelled"], ("Complete", "Complete", "Complete")),
    (["Cancelled", "Cancelled"], ("Cancelled", "NotStarted", "NotStarted")),
    (["Rejected", "Shipped"], ("InProgress", "Error", "InProgress")),
])
def test_stage_and_details_follow_the_shipments(lab_stages, expected):
    state = order(assets=[asset(status="Complete", attempts=1, prepared=True)], allocate="Complete",
                  shipments=[ShipmentState(i, "gb1", s, None) for i, s in enumerate(lab_stages)])
    derived = derive_status(state)
    assert (derived.stage, derived.in_production, derived.shipping) == expected
    assert derived.download_assets == "Complete" and derived.print_ready_assets_prepared == "Complete"
    assert derived.item_statuses == {1: "Ok"}


def test_downloads_and_items_aggregate_over_assets():
    two_items = [ItemState(1, "A", "fillPrintArea", "{}", "NotYetDownloaded"),
                 ItemState(2, "B", "fillPrintArea", "{}", "NotYetDownloaded")]
    partial = derive_status(order(items=two_items, assets=[asset(status="Complete", attempts=1), asset(id=2, item_id=2)]))
    assert partial.download_assets == "InProgress" and partial.item_statuses == {1: "Ok", 2: "NotYetDownloaded"}
    failed = derive_status(order(items=two_items, assets=[asset(status="Complete", attempts=1),
                                                          asset(id=2, item_id=2, status="Error", attempts=10)]))
    assert failed.download_assets == "Error" and failed.item_statuses == {1: "Ok", 2: "Invalid"}
    assert derive_status(order(assets=[asset()])).download_assets == "NotStarted"
