"""merchants' credentials for the legacy Print API, made on first use

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('legacy_credentials',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('api_key', sa.String(length=40), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('client_code', sa.String(length=20), nullable=False),
    sa.Column('source_codes_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('secret_rotated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_legacy_credentials_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legacy_credentials')),
    sa.UniqueConstraint('api_key', name=op.f('uq_legacy_credentials_api_key')),
    sa.UniqueConstraint('client_code', name=op.f('uq_legacy_credentials_client_code')),
    sa.UniqueConstraint('merchant_id', 'environment', name=op.f('uq_legacy_credentials_merchant_id_environment')),
    )
    with op.batch_alter_table('legacy_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legacy_credentials_merchant_id'), ['merchant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('legacy_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legacy_credentials_merchant_id'))
    op.drop_table('legacy_credentials')
