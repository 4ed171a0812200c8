"""issues keep the core's own codes; each face spells them its way

Stored issue codes were the Prodigi v4 spellings; the v4 face now maps the core's codes onto
those when it renders, so the rendered orders do not change (stored renditions stay valid).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CODES = {
    "order.items.ItemUnavailable": "item_unavailable",
    "order.items.assets.NotDownloaded": "asset_not_downloaded",
    "order.items.assets.FailedToDownloaded": "asset_download_failed",
    "RequiresPaymentAuthorisation": "payment_authorisation_required",
    "order.items.NotAllocatable": "item_not_allocatable",
    "order.shipments.RejectedByLab": "shipment_rejected_by_lab",
}


def _rename(pairs) -> None:
    issues = sa.table("order_issues", sa.column("error_code", sa.String))
    for old, new in pairs:
        op.execute(issues.update().where(issues.c.error_code == old).values(error_code=new))


def upgrade() -> None:
    _rename(CODES.items())


def downgrade() -> None:
    _rename((new, old) for old, new in CODES.items())
