"""orders remember the API face they were placed through; drafts keep a price and a payer

Callbacks are rendered by the order's own face. Every order before this revision came
through the Prodigi v4 face, the only one there was. Orders can now exist before they are
submitted (stage Draft), with the price they would have and who would pay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face', sa.String(length=20), server_default='prodigi_v4', nullable=False))
        batch_op.add_column(sa.Column('payment_option', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('draft_price_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('draft_price_json')
        batch_op.drop_column('payment_option')
        batch_op.drop_column('face')
