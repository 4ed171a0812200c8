"""retire renditions of the v4 order shape before issues carried authorisationDetails

Stored renditions are a cache keyed by format name; the v4 face's format is now
"prodigi_v4@2". Rows of the old name would never be read again, so they go; a read of an
order that has none renders it and stores it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:20:00
"""
from __future__ import annotations

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM order_renditions WHERE format = 'prodigi_v4'")


def downgrade() -> None:
    # The old code renders what it does not find; nothing to restore.
    op.execute("DELETE FROM order_renditions WHERE format = 'prodigi_v4@2'")
