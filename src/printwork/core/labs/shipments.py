"""A shipment moves on at its lab: into production, then shipped with its tracking.

Real labs report through the lab API (core/labs/service.py); the sandbox's simulated lab
(core/labs/simulated.py) and the sandbox controls move shipments the same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from printwork.core.orders.progress import LAB_IN_PRODUCTION, LAB_SHIPPED, LAB_SUBMITTED, SHIPMENT_SHIPPED
from printwork.core.orders.repository import shipments_t

TRACKING_URLS = {
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/details/{}",
    "auspost": "https://auspost.com.au/mypost/track/details/{}",
}


def tracking_url(carrier: str, number: str) -> str:
    template = TRACKING_URLS.get(carrier.replace(" ", "").lower(), "https://parcelsapp.com/en/tracking/{}")
    return template.format(number)


def mark_in_production(session: Session, shipment_id: int, now: datetime, next_due: datetime | None = None) -> bool:
    return bool(session.execute(update(shipments_t).where(
        shipments_t.c.id == shipment_id, shipments_t.c.lab_stage == LAB_SUBMITTED,
    ).values(lab_stage=LAB_IN_PRODUCTION, production_started_at=now, lab_due_at=next_due)).rowcount)


def mark_shipped(session: Session, shipment_id: int, now: datetime, *, tracking_number: str | None,
                 tracking_url: str | None, carrier: str | None = None, service: str | None = None) -> bool:
    values = dict(lab_stage=LAB_SHIPPED, status=SHIPMENT_SHIPPED, dispatch_date=now, lab_due_at=None,
                  tracking_number=tracking_number, tracking_url=tracking_url)
    if carrier:
        values["carrier"] = carrier
    if service:
        values["service"] = service
    return bool(session.execute(update(shipments_t).where(
        shipments_t.c.id == shipment_id, shipments_t.c.lab_stage.in_((LAB_SUBMITTED, LAB_IN_PRODUCTION)),
    ).values(**values)).rowcount)
