"""Moving one order along by hand: sandbox controls, payment authorisation, releasing a hold.

Each function runs in the caller's transaction, locks the order row first and leaves the order
due now; the caller tells the queue after committing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from printwork.core.callbacks.events import Announcer
from printwork.core.errors import Conflict, EntityNotFound, Forbidden
from printwork.core.merchants.service import Owner, utcnow
from printwork.core.orders.domain import (
    STAGE_AWAITING_PAYMENT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
)
from printwork.core.orders.renditions import order_changed
from printwork.core.orders.repository import assets_t, orders_t, shipments_t
from printwork.core.orders import payment
from printwork.core.orders.progress import (
    ASSET_ERROR,
    ASSET_IN_PROGRESS,
    ERROR,
    FAULT_ASSET_DOWNLOAD,
    FAULTS,
    LAB_ALLOCATED,
    LAB_IN_PRODUCTION,
    LAB_SUBMITTED,
    load_state,
)

SANDBOX = "sandbox"


def _locked_order(session: Session, owner: Owner, order_id: int):
    row = session.execute(
        select(orders_t.c.id, orders_t.c.stage, orders_t.c.environment)
        .where(orders_t.c.id == order_id, orders_t.c.merchant_id == owner.merchant_id,
               orders_t.c.environment == owner.environment)
        .with_for_update()
    ).first()
    if row is None:
        raise EntityNotFound(f"order {order_id} not found")
    return row


def _sandbox_order(session: Session, owner: Owner, order_id: int):
    if owner.environment != SANDBOX:
        raise Forbidden("sandbox controls work only with a sandbox API key")
    return _locked_order(session, owner, order_id)


def advance(session: Session, owner: Owner, order_id: int, *, all_the_way: bool) -> None:
    """Skip the waits: the next lab step happens now, or (all_the_way) every step until shipped."""
    order = _sandbox_order(session, owner, order_id)
    state = load_state(session, order_id)
    assert state is not None
    if order.stage == STAGE_ON_HOLD:
        raise Conflict("the order is in its pause window; release it first")
    if order.stage == STAGE_AWAITING_PAYMENT:
        raise Conflict("the order is awaiting payment authorisation; authorise it first")
    if order.stage != STAGE_IN_PROGRESS:
        raise Conflict(f"the order is {order.stage}; nothing is left to move")
    if any(a.status == ASSET_ERROR for a in state.assets) or ERROR in (
        state.allocate_production_location, state.in_production
    ):
        raise Conflict("the order has an error (see status.issues) and cannot move on")
    now = utcnow()
    # A download waiting for its next attempt tries now.
    session.execute(update(assets_t).where(assets_t.c.order_id == order_id, assets_t.c.status == ASSET_IN_PROGRESS)
                    .values(next_attempt_at=now))
    session.execute(update(shipments_t).where(
        shipments_t.c.order_id == order_id, shipments_t.c.lab_stage.in_((LAB_SUBMITTED, LAB_IN_PRODUCTION)),
    ).values(lab_due_at=now))
    values = {"due_at": now}
    if all_the_way:
        values["sandbox_hurry"] = True
    session.execute(update(orders_t).where(orders_t.c.id == order_id).values(**values))


def set_fault(session: Session, owner: Owner, order_id: int, step: str) -> None:
    """Make a step of this sandbox order fail when it comes; refused once the step is behind it."""
    if step not in FAULTS:
        raise Conflict(f"unknown step {step!r}; one of {', '.join(FAULTS)}")
    _sandbox_order(session, owner, order_id)
    state = load_state(session, order_id)
    assert state is not None
    if step == FAULT_ASSET_DOWNLOAD and not any(a.status == ASSET_IN_PROGRESS for a in state.assets):
        raise Conflict("every asset has already been downloaded or has failed")
    if step != FAULT_ASSET_DOWNLOAD and state.shipments and not any(s.lab_stage == LAB_ALLOCATED for s in state.shipments):
        raise Conflict("the order's shipments have already gone to the lab")
    session.execute(update(orders_t).where(orders_t.c.id == order_id)
                    .values(sandbox_fault=step, due_at=utcnow(), version=orders_t.c.version + 1))
    order_changed(session, order_id)


def authorise_payment(session: Session, order_id: int, owner: Owner | None = None) -> None:
    """Operators (CLI, later the dashboard) pass no owner; the sandbox control passes its own."""
    if owner is not None:
        _sandbox_order(session, owner, order_id)
    elif session.execute(select(orders_t.c.id).where(orders_t.c.id == order_id).with_for_update()).first() is None:
        raise EntityNotFound(f"order {order_id} not found")
    if not payment.authorise_payment(session, order_id):
        raise Conflict("the order is not awaiting payment authorisation")


def authorise_owned_payment(session: Session, owner: Owner, order_id: int) -> None:
    """The merchant authorises its own order's payment (the page at the order's authorisationUrl),
    in either environment: the built-in payment step records the authorisation."""
    _locked_order(session, owner, order_id)
    if not payment.authorise_payment(session, order_id):
        raise Conflict("the order is not awaiting payment authorisation")


def release_hold(session: Session, order_id: int, catalog, public_base_url: str, announcer: Announcer | None,
                 owner: Owner | None = None) -> None:
    if owner is not None:
        _sandbox_order(session, owner, order_id)
    elif session.execute(select(orders_t.c.id).where(orders_t.c.id == order_id).with_for_update()).first() is None:
        raise EntityNotFound(f"order {order_id} not found")
    if not payment.start_fulfilment(session, order_id, catalog, public_base_url, announcer):
        raise Conflict("the order is not in a pause window")


@dataclass(frozen=True)
class Progress:
    leased: bool  # a job is working on it now
    due_at: datetime | None
    stage: str
    lab_stages: tuple[str, ...]


def progress(session: Session, order_id: int) -> Progress | None:
    order = session.execute(select(orders_t.c.lease_token, orders_t.c.due_at, orders_t.c.stage)
                            .where(orders_t.c.id == order_id)).first()
    if order is None:
        return None
    stages = tuple(session.execute(select(shipments_t.c.lab_stage).where(shipments_t.c.order_id == order_id)
                                   .order_by(shipments_t.c.position)).scalars())
    return Progress(order.lease_token is not None, order.due_at, order.stage, stages)


def has_advanced(now: Progress, *, all_the_way: bool, since: datetime) -> bool:
    """Whether the pipeline has done what `advance` asked for (`since`: when it was asked)."""
    if now.leased:
        return False
    if all_the_way:
        moving = (LAB_ALLOCATED, LAB_SUBMITTED, LAB_IN_PRODUCTION)
        return now.stage != STAGE_IN_PROGRESS or (bool(now.lab_stages) and not any(s in moving for s in now.lab_stages))
    # One step: a job has run since (it left the order due later, or not at all).
    return now.due_at is None or now.due_at > since
