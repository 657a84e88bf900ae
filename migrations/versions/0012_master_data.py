"""master data: the audit of every change, regions with their account managers, credit limit raises
waiting for a second person

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'master_audit',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('record_type', sa.String(16), nullable=False),
        sa.Column('record_key', sa.String(64), nullable=False),
        sa.Column('field', sa.String(64), nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.Column('after', sa.Text(), nullable=True),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('via', sa.String(16), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('master_audit_record', 'master_audit', ['record_type', 'record_key', 'at'])
    op.create_table(
        'regions',
        sa.Column('code', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    # The regions dealers are already in.
    op.execute("insert into regions (code, name) select distinct region, region from dealers")
    op.create_table(
        'region_account_managers',
        sa.Column('region_code', sa.String(64), sa.ForeignKey('regions.code', ondelete='CASCADE'), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
    )
    op.create_index('ix_region_account_managers_user_id', 'region_account_managers', ['user_id'])
    op.create_table(
        'credit_limit_changes',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('old_limit', sa.Numeric(14, 2), nullable=False),
        sa.Column('new_limit', sa.Numeric(14, 2), nullable=False),
        sa.Column('threshold', sa.Numeric(14, 2), nullable=False),
        sa.Column('requested_by', sa.String(64), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('decided_by', sa.String(64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('workflow_id', sa.String(128), nullable=False),
        sa.CheckConstraint("status in ('pending', 'approved', 'rejected')", name='limit_change_status'),
    )
    op.create_index('ix_credit_limit_changes_dealer_id', 'credit_limit_changes', ['dealer_id'])
    op.create_index('limit_change_pending', 'credit_limit_changes', ['dealer_id'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_table('credit_limit_changes')
    op.drop_table('region_account_managers')
    op.drop_table('regions')
    op.drop_table('master_audit')
