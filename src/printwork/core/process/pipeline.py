"""The order process: one driver that moves an order through every step it can take now.

A job names an order by id. `drive_order` leases the order (so two jobs never work on it at
once), then repeatedly reloads it, asks `next_action` what to do, and does it. Slow work
(downloads, pixels, files) happens outside any transaction; its result is then written in a
short one that first checks the lease is still ours (a fencing token), so a job that stalled
past its lease can never overwrite a newer one's work. Every write re-derives the status the
merchant sees and moves the order's version. Files are written under keys derived from ids,
so running any step twice leaves one copy.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import orjson
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from printwork import logs
from printwork.core.assets import imaging, samples
from printwork.core.assets.download import DownloadFailed, DownloadLimits
from printwork.core.assets.storage import (
    AssetStorage,
    original_key,
    print_file_key,
    preview_key,
    print_file_pdf_key,
    thumbnail_key,
)
from printwork.core.callbacks.events import Announcer
from printwork.core.catalog.service import CatalogCache
from printwork.core.labs.simulated import advance_sandbox_shipment
from printwork.core.merchants.service import utcnow
from printwork.core.orders.allocation import allocate_order
from printwork.core.orders.domain import (
    ISSUE_FAILED_TO_DOWNLOAD,
    ISSUE_IMAGE_UNUSABLE,
    ISSUE_NOT_ALLOCATABLE,
    ISSUE_NOT_DOWNLOADED,
    ISSUE_REJECTED_BY_LAB,
    item_public_id,
    shipment_public_id,
)
from printwork.core.orders.payment import start_fulfilment
from printwork.core.orders.progress import (
    ASSET_COMPLETE,
    ASSET_ERROR,
    ASSET_IN_PROGRESS,
    DOWNLOAD_ATTEMPTS,
    ERROR,
    FAULT_ASSET_DOWNLOAD,
    FAULT_LAB_SUBMISSION,
    LAB_ALLOCATED,
    LAB_REJECTED,
    LAB_SUBMITTED,
    OrderState,
    add_issue,
    load_state,
    refresh_status,
)
from printwork.core.orders.repository import (
    assets_t,
    issues_t,
    orders_t,
    shipments_t,
)
from printwork.core.pricing.allocation import NotAllocatable
from printwork.core.process import slow_work
from printwork.core.process.slow_work import SlowWorkPool
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
from printwork.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


# After an unexpected failure (a bug, a database outage) the order is tried again this much later.
FAILURE_BACKOFF = timedelta(seconds=60)

class LeaseLost(Exception):
    """Another job has taken the order over; this one must stop without writing."""


class StepFailed(Exception):
    """A step cannot go on until an operator acts (e.g. the catalogue lost a product)."""


@dataclass(frozen=True)
class ProcessRules:
    retry_delays_live: tuple[float, ...]
    retry_delays_sandbox: tuple[float, ...]
    sandbox_lab_delay: timedelta
    retention: timedelta
    lease: timedelta
    public_base_url: str
    download_limits: DownloadLimits
    allow_private_urls: bool

    @classmethod
    def from_settings(cls, settings) -> ProcessRules:
        return cls(
            retry_delays_live=tuple(settings.download_retry_delays_live),
            retry_delays_sandbox=tuple(settings.download_retry_delays_sandbox),
            sandbox_lab_delay=timedelta(seconds=settings.sandbox_lab_delay_seconds),
            retention=timedelta(days=settings.retention_days),
            lease=timedelta(seconds=settings.job_lease_seconds),
            public_base_url=settings.resolved_public_base_url,
            download_limits=DownloadLimits(
                max_bytes=settings.download_max_bytes,
                connect_timeout=settings.download_connect_timeout,
                read_timeout=settings.download_read_timeout,
                deadline=settings.download_deadline,
            ),
            allow_private_urls=settings.allow_private_urls,
        )

    def retry_delay(self, sandbox: bool, failed_attempt: int) -> timedelta:
        delays = self.retry_delays_sandbox if sandbox else self.retry_delays_live
        if not delays:
            return timedelta(0)
        return timedelta(seconds=delays[min(failed_attempt, len(delays)) - 1])


# Called after a commit that makes an order due at a time (None: now): the queue's business.
DueNotifier = Callable[[int, datetime | None], None]
# Told of each download attempt that counted: its outcome (downloaded, retrying, failed) and the
# bytes it stored (0 unless downloaded).
DownloadObserver = Callable[[str, int], None]


@dataclass
class ProcessRuntime:
    """Everything a worker needs to move orders along; one per worker process."""

    database: Database
    storage: AssetStorage
    rules: ProcessRules
    notify_due: DueNotifier
    announcer: Announcer | None = None
    observe_download: DownloadObserver | None = None
    catalogs: CatalogCache = field(default_factory=CatalogCache)
    # Downloads and pixel work run in processes this much lower in CPU priority than the jobs
    # (0: in the job's own thread). `printwork serve`'s worker sets it so that a backlog of
    # image work yields the CPU to the API; the jobs' transactions, which take the database's
    # write lock, keep the job's priority (a niced holder would hold the API's commits longer).
    slow_work_nice: int = 0
    slow_work_processes: int = 2
    _slow_pool_lock: threading.Lock = field(default_factory=threading.Lock)
    _slow_pool: SlowWorkPool | None = None

    def slowly(self, work: Callable[..., T], *args) -> T:
        """`work(*args)` (a function of slow_work.py) here, or in the low-priority processes."""
        if not self.slow_work_nice:
            return work(*args)
        with self._slow_pool_lock:
            if self._slow_pool is None:
                self._slow_pool = SlowWorkPool(self.slow_work_nice, self.slow_work_processes)
        return self._slow_pool.run(work, *args)

    def close(self) -> None:
        if self._slow_pool is not None:
            self._slow_pool.close()


# --- the driver ----------------------------------------------------------------------------

def drive_order(runtime: ProcessRuntime, order_id: int) -> None:
    """Do everything the order allows now; safe to call any number of times, from anywhere."""
    token = _claim(runtime, order_id)
    if token is None:
        return  # another job holds it; that job re-reads the order before it lets go
    due: datetime | None = None
    try:
        while True:
            with runtime.database.read() as session:
                state = load_state(session, order_id)
            if state is None:
                return
            logs.describe_order(merchant=state.merchant_id, trace=state.trace_parent, through=state.face)
            action = next_action(state, utcnow(), runtime.rules.retention)
            if action is None or _is_quick(action):
                with runtime.database.transaction() as session:
                    fence(session, order_id, token, runtime.rules.lease)
                    released, due = _settle(runtime, session, order_id, token)
            else:
                released, due = _perform_slow(runtime, state, action, token)
            if released:
                break
    except LeaseLost:
        return
    except Exception:
        log.exception("order %s: a step failed; it will be tried again in %s", order_id, FAILURE_BACKOFF)
        due = utcnow() + FAILURE_BACKOFF
        _release_after_failure(runtime, order_id, token, due)
    if due is not None:
        runtime.notify_due(order_id, due)


def _claim(runtime: ProcessRuntime, order_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = utcnow()
    with runtime.database.transaction() as session:
        claimed = session.execute(
            update(orders_t)
            .where(orders_t.c.id == order_id,
                   or_(orders_t.c.lease_expires_at.is_(None), orders_t.c.lease_expires_at < now))
            # While leased the order counts as due now: if the job dies, the reconciler re-drives
            # it once the lease has lapsed.
            .values(lease_token=token, lease_expires_at=now + runtime.rules.lease, due_at=now)
        ).rowcount
    return token if claimed else None


def _settle(runtime: ProcessRuntime, session: Session, order_id: int, token: str,
            known: OrderState | None = None) -> tuple[bool, datetime | None]:
    """In the caller's (fenced) transaction: take every quick step now due, then let the order go
    with its next due time if nothing else is due now. (True, due) if released; (False, None) if
    a slow step is next. Folding the quick steps into the previous step's commit saves the worker
    a transaction and an fsync each (bench/pipeline.py).

    `known` is the order as the last write left it (refresh_status's answer), so that it is not
    read again while this transaction holds the embedded database's one write lock."""
    for _ in range(100):
        state = known if known is not None else load_state(session, order_id)
        if state is None:
            return True, None
        action = next_action(state, utcnow(), runtime.rules.retention)
        if action is None:
            due = next_due(state, runtime.rules.retention)
            session.execute(
                update(orders_t).where(orders_t.c.id == order_id, orders_t.c.lease_token == token)
                .values(lease_token=None, lease_expires_at=None, due_at=due)
            )
            return True, due
        if not _is_quick(action):
            return False, None
        known = _perform_quick(runtime, session, state, action)
    raise AssertionError(f"order {order_id}: quick steps did not settle")


def _release_after_failure(runtime: ProcessRuntime, order_id: int, token: str, due: datetime) -> None:
    try:
        with runtime.database.transaction() as session:
            session.execute(
                update(orders_t).where(orders_t.c.id == order_id, orders_t.c.lease_token == token)
                .values(lease_token=None, lease_expires_at=None, due_at=due)
            )
    except Exception:
        log.exception("order %s: could not release after a failure", order_id)


def fence(session: Session, order_id: int, token: str, lease: timedelta) -> None:
    """Check the lease is still ours and extend it; also locks the order row for this transaction."""
    held = session.execute(
        update(orders_t).where(orders_t.c.id == order_id, orders_t.c.lease_token == token)
        .values(lease_expires_at=utcnow() + lease)
    ).rowcount
    if not held:
        raise LeaseLost()


def _is_quick(action) -> bool:
    """Steps with no slow work (network, pixels, files): they run inside a transaction."""
    return isinstance(action, Allocate | SubmitShipments | SandboxLabStep | ReleaseHold)


def _perform_quick(runtime: ProcessRuntime, session: Session, state: OrderState, action) -> OrderState | None:
    """Take the step; the order as it now is when the step ends by refreshing it, else None."""
    match action:
        case Allocate():
            return _allocate(runtime, session, state)
        case SubmitShipments():
            return _submit(runtime, session, state)
        case SandboxLabStep(shipment_id):
            return advance_sandbox_shipment(session, state.id, shipment_id, runtime.rules.sandbox_lab_delay,
                                            runtime.announcer)
        case ReleaseHold():
            start_fulfilment(session, state.id, runtime.catalogs.get(session), runtime.rules.public_base_url,
                             runtime.announcer)
            return None
        case _:
            raise AssertionError(f"not a quick step: {action!r}")


def _perform_slow(runtime: ProcessRuntime, state: OrderState, action, token: str) -> tuple[bool, datetime | None]:
    match action:
        case DownloadAsset(asset_id):
            return _download(runtime, state, asset_id, token)
        case PrepareAsset(asset_id):
            return _prepare(runtime, state, asset_id, token)
        case PurgeFiles():
            return _purge(runtime, state, token)
        case _:
            raise AssertionError(f"unknown action {action!r}")


# --- step 1: download ---------------------------------------------------------------------

def _download(runtime: ProcessRuntime, state: OrderState, asset_id: int, token: str) -> tuple[bool, datetime | None]:
    asset = next(a for a in state.assets if a.id == asset_id)
    item = next(i for i in state.items if i.id == asset.item_id)
    catalog = runtime.catalogs.current(runtime.database)
    product = catalog.product(item.sku)
    accepted = imaging.PRINT_FORMATS | ({"pdf"} if product is not None and product.category == "photobook" else set())
    attempt = asset.attempts + 1
    scratch = runtime.storage.scratch() / f"download-{asset_id}-{uuid.uuid4().hex}"
    failure: str | None = None
    final = unusable = False
    info = None
    stored = 0
    # One of the pictures Printwork ships for the sandbox is copied, not fetched.
    sample = samples.sample_for_url(asset.url, runtime.rules.public_base_url) if state.is_sandbox else None
    try:
        if state.is_sandbox and state.sandbox_fault == FAULT_ASSET_DOWNLOAD:
            raise DownloadFailed("the sandbox was asked to make this download fail")
        info = runtime.slowly(
            slow_work.fetch_original, asset.url, sample, asset.md5_hash, frozenset(accepted), scratch,
            runtime.storage, original_key(state.id, asset_id), runtime.rules.download_limits,
            runtime.rules.allow_private_urls)
    except DownloadFailed as exc:
        failure, final = exc.reason, attempt >= DOWNLOAD_ATTEMPTS
    except imaging.UnusableImage as exc:
        # The bytes arrived whole and are not printable: fetching them again cannot help.
        failure, final, unusable = str(exc), True, True
    finally:
        scratch.unlink(missing_ok=True)

    now = utcnow()
    with runtime.database.transaction() as session:
        fence(session, state.id, token, runtime.rules.lease)
        where = (assets_t.c.id == asset_id, assets_t.c.status == ASSET_IN_PROGRESS, assets_t.c.attempts == asset.attempts)
        where_text = f"'{asset.print_area}' asset on item '{item_public_id(item.id)}' at location '{asset.url}'"
        if failure is None:
            assert info is not None
            stored = runtime.storage.size(original_key(state.id, asset_id))
            changed = session.execute(update(assets_t).where(*where).values(
                status=ASSET_COMPLETE, attempts=attempt, next_attempt_at=None, original_format=info.format,
                original_width=info.width, original_height=info.height, downloaded_at=now, original_bytes=stored,
            )).rowcount
            if changed:
                log.info("order %s: asset %s downloaded on attempt %d (%s %dx%d)", state.id, asset_id, attempt,
                         info.format, info.width, info.height)
                # The warnings were about attempts that no longer matter.
                session.execute(delete(issues_t).where(
                    issues_t.c.asset_id == asset_id, issues_t.c.error_code == ISSUE_NOT_DOWNLOADED))
        elif final:
            changed = session.execute(update(assets_t).where(*where).values(
                status=ASSET_ERROR, attempts=attempt, next_attempt_at=None)).rowcount
            if changed:
                log.warning("order %s: asset %s failed for good on attempt %d: %s", state.id, asset_id, attempt,
                            failure)
                add_issue(session, state.id, item_public_id(item.id),
                           ISSUE_IMAGE_UNUSABLE if unusable else ISSUE_FAILED_TO_DOWNLOAD,
                           f"Failed to download {where_text} after {attempt} of {DOWNLOAD_ATTEMPTS} attempts: {failure}",
                           asset_id=asset_id)
        else:
            wait = runtime.rules.retry_delay(state.is_sandbox, attempt)
            changed = session.execute(update(assets_t).where(*where).values(
                attempts=attempt, next_attempt_at=now + wait)).rowcount
            if changed:
                log.info("order %s: asset %s attempt %d failed (%s); next in %s", state.id, asset_id, attempt,
                         failure, wait)
                add_issue(session, state.id, item_public_id(item.id), ISSUE_NOT_DOWNLOADED,
                           f"Warning: Download attempt {attempt} of {DOWNLOAD_ATTEMPTS} failed for {where_text}: {failure}",
                           asset_id=asset_id)
        refreshed = refresh_status(session, state.id, runtime.announcer) if changed else None
        settled = _settle(runtime, session, state.id, token, refreshed)
    if changed and runtime.observe_download is not None:
        outcome = "downloaded" if failure is None else "failed" if final else "retrying"
        try:
            runtime.observe_download(outcome, stored)
        except Exception:  # noqa: BLE001 - counting must never undo a committed step
            log.exception("could not count a download")
    return settled


# --- step 2: lab allocation ---------------------------------------------------------------

def _allocate(runtime: ProcessRuntime, session: Session, state: OrderState) -> OrderState | None:
    catalog = runtime.catalogs.get(session)
    try:
        with session.begin_nested():
            allocate_order(session, state.id, catalog)
    except NotAllocatable as exc:
        session.execute(update(orders_t).where(orders_t.c.id == state.id).values(allocate_production_location=ERROR))
        for position in exc.positions:
            item = state.items[position]
            add_issue(session, state.id, item_public_id(item.id), ISSUE_NOT_ALLOCATABLE,
                       f"No lab can now make SKU '{item.sku}' on item '{item_public_id(item.id)}' and ship it to "
                       f"the recipient by the order's shipping method.")
    return refresh_status(session, state.id, runtime.announcer)


# --- step 3: print-ready files ------------------------------------------------------------

def _prepare(runtime: ProcessRuntime, state: OrderState, asset_id: int, token: str) -> tuple[bool, datetime | None]:
    asset = next(a for a in state.assets if a.id == asset_id)
    item = next(i for i in state.items if i.id == asset.item_id)
    with runtime.database.read() as session:
        row = session.execute(
            select(assets_t.c.original_format, assets_t.c.original_width, assets_t.c.original_height)
            .where(assets_t.c.id == asset_id)
        ).one()
    key = original_key(state.id, asset_id)
    scratch = runtime.storage.scratch()
    stem = f"prepare-{asset_id}-{uuid.uuid4().hex}"
    print_path, thumb_path = scratch / f"{stem}.print", scratch / f"{stem}.thumb.jpg"
    is_pdf = row.original_format == "pdf"
    print_size = None if is_pdf else _print_area_pixels(runtime, item, asset.print_area)
    try:
        has_thumbnail = runtime.slowly(
            slow_work.make_print_files, runtime.storage, key, is_pdf,
            None if is_pdf else (row.original_width, row.original_height), print_size, item.sizing,
            print_path, thumb_path, print_file_pdf_key(state.id, asset_id) if is_pdf else print_file_key(state.id, asset_id),
            thumbnail_key(state.id, asset_id))
    finally:
        print_path.unlink(missing_ok=True)
        thumb_path.unlink(missing_ok=True)

    thumbnail_token = secrets.token_urlsafe(24) if has_thumbnail else None
    with runtime.database.transaction() as session:
        fence(session, state.id, token, runtime.rules.lease)
        changed = session.execute(
            update(assets_t).where(assets_t.c.id == asset_id, assets_t.c.prepared_at.is_(None)).values(
                prepared_at=utcnow(), thumbnail_token=thumbnail_token,
                thumbnail_url=None if thumbnail_token is None
                else f"{runtime.rules.public_base_url}/thumbnails/{thumbnail_token}.jpg",
            )
        ).rowcount
        refreshed = refresh_status(session, state.id, runtime.announcer) if changed else None
        return _settle(runtime, session, state.id, token, refreshed)


def _print_area_pixels(runtime: ProcessRuntime, item, print_area: str) -> tuple[int, int]:
    catalog = runtime.catalogs.current(runtime.database)
    product = catalog.product(item.sku)
    if product is None:
        raise StepFailed(f"SKU {item.sku} is no longer in the catalogue")
    chosen = {}
    for name, value in orjson.loads(item.attributes_json).items():
        canonical = product.canonical_attribute_name(name)
        if canonical is not None:
            chosen[canonical] = product.canonical_attribute_value(canonical, value) or value
    variant = product.variant_for(chosen)
    area = product.canonical_print_area(print_area)
    if variant is None or area is None or area not in variant.print_area_sizes:
        raise StepFailed(f"the catalogue has no {print_area!r} print area size for {item.sku} {chosen}")
    size = variant.print_area_sizes[area]
    return size.horizontal, size.vertical


# --- steps 4-6: lab submission, production, shipping --------------------------------------

def _submit(runtime: ProcessRuntime, session: Session, state: OrderState) -> OrderState | None:
    now = utcnow()
    for shipment in state.shipments:
        if shipment.lab_stage != LAB_ALLOCATED:
            continue
        if state.is_sandbox and state.sandbox_fault == FAULT_LAB_SUBMISSION:
            reason = "the sandbox was asked to make the lab reject this shipment"
            changed = session.execute(update(shipments_t).where(
                shipments_t.c.id == shipment.id, shipments_t.c.lab_stage == LAB_ALLOCATED,
            ).values(lab_stage=LAB_REJECTED, rejection_reason=reason)).rowcount
            if changed:
                add_issue(session, state.id, shipment_public_id(shipment.id), ISSUE_REJECTED_BY_LAB,
                           f"Lab '{shipment.lab_code}' rejected shipment '{shipment_public_id(shipment.id)}': {reason}")
            continue
        # Live shipments now wait for their lab to collect them through the lab API.
        session.execute(update(shipments_t).where(
            shipments_t.c.id == shipment.id, shipments_t.c.lab_stage == LAB_ALLOCATED,
        ).values(lab_stage=LAB_SUBMITTED, submitted_at=now,
                 lab_due_at=now + runtime.rules.sandbox_lab_delay if state.is_sandbox else None))
    return refresh_status(session, state.id, runtime.announcer)


# --- retention -----------------------------------------------------------------------------

def _purge(runtime: ProcessRuntime, state: OrderState, token: str) -> tuple[bool, datetime | None]:
    """Delete originals and print files (and the dashboard's previews of them); the order and its
    thumbnails stay."""
    for asset in state.assets:
        for key in (original_key(state.id, asset.id), print_file_key(state.id, asset.id),
                    print_file_pdf_key(state.id, asset.id), preview_key(state.id, asset.id, "original"),
                    preview_key(state.id, asset.id, "print")):
            runtime.storage.delete(key)
    with runtime.database.transaction() as session:
        fence(session, state.id, token, runtime.rules.lease)
        session.execute(update(orders_t).where(orders_t.c.id == state.id).values(files_purged_at=utcnow()))
        return _settle(runtime, session, state.id, token)


def purge_scratch(storage: AssetStorage, older_than: timedelta) -> int:
    """Remove work files a killed worker left behind."""
    cutoff = utcnow().timestamp() - older_than.total_seconds()
    removed = 0
    for path in Path(storage.scratch()).iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed
