"""order history imported from the ERP: orders, returns and payments marked imported, an order's ERP
number kept once (source_ref), and the record of each import

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('orders', 'order_returns', 'payments'):
        op.add_column(table, sa.Column('imported', sa.Boolean(), nullable=False, server_default='false'))
    op.add_column('orders', sa.Column('source_ref', sa.String(64), nullable=True))
    op.create_unique_constraint('orders_source_ref_key', 'orders', ['source_ref'])
    op.create_table('history_imports',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('counts', postgresql.JSONB(), nullable=False),
    sa.Column('problems', postgresql.JSONB(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('running', 'imported', 'checked', 'refused')", name='history_import_state'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('history_import_started', 'history_imports', ['started_at'])


def downgrade() -> None:
    op.drop_index('history_import_started', table_name='history_imports')
    op.drop_table('history_imports')
    op.drop_constraint('orders_source_ref_key', 'orders')
    op.drop_column('orders', 'source_ref')
    for table in ('orders', 'order_returns', 'payments'):
        op.drop_column(table, 'imported')
