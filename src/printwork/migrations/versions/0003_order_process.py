"""order process

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:39:48.494352
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lab_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('lab_code', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_lab_keys_key_hash'))
    )
    with op.batch_alter_table('lab_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_keys_lab_code'), ['lab_code'], unique=False)

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pause_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pause_indefinite', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('pays_per_order', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('order_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('original_format', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('original_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('original_height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('original_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('downloaded_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('prepared_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('thumbnail_token', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_order_assets_thumbnail_token'), ['thumbnail_token'])

    with op.batch_alter_table('order_issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('authorisation_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('payment_amount', sa.Numeric(precision=14, scale=4), nullable=True))
        batch_op.add_column(sa.Column('payment_currency', sa.String(length=3), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('hold_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('files_purged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sandbox_fault', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('sandbox_hurry', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_orders_due_at'), ['due_at'], unique=False)

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lab_stage', sa.String(length=20), nullable=False, server_default='Allocated'))
        batch_op.add_column(sa.Column('lab_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('production_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('rejection_reason', sa.Text(), nullable=True))
        batch_op.create_index('ix_shipments_lab_stage', ['lab_code', 'lab_stage'], unique=False)

    # Orders placed before the pipeline existed are due now, so the reconciler picks them up.
    op.execute("UPDATE orders SET due_at = created_at, submitted_at = created_at WHERE stage = 'InProgress'")


def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_lab_stage')
        batch_op.drop_column('rejection_reason')
        batch_op.drop_column('production_started_at')
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('lab_due_at')
        batch_op.drop_column('lab_stage')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_due_at'))
        batch_op.drop_column('sandbox_hurry')
        batch_op.drop_column('sandbox_fault')
        batch_op.drop_column('files_purged_at')
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('hold_until')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_token')
        batch_op.drop_column('due_at')

    with op.batch_alter_table('order_issues', schema=None) as batch_op:
        batch_op.drop_column('payment_currency')
        batch_op.drop_column('payment_amount')
        batch_op.drop_column('authorisation_url')
        batch_op.drop_column('asset_id')

    with op.batch_alter_table('order_assets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_order_assets_thumbnail_token'), type_='unique')
        batch_op.drop_column('thumbnail_token')
        batch_op.drop_column('prepared_at')
        batch_op.drop_column('downloaded_at')
        batch_op.drop_column('original_bytes')
        batch_op.drop_column('original_height')
        batch_op.drop_column('original_width')
        batch_op.drop_column('original_format')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('pays_per_order')
        batch_op.drop_column('pause_indefinite')
        batch_op.drop_column('pause_seconds')

    with op.batch_alter_table('lab_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_keys_lab_code'))

    op.drop_table('lab_keys')
