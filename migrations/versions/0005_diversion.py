"""anti-diversion: product codes, scans, alerts, investigation cases, credit points

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 20:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
MONEY = sa.Numeric(precision=14, scale=2)
CODE = sa.String(length=64, collation='C')


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.add_column('products', sa.Column('guide_price', MONEY, nullable=True))
    op.create_table('code_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_no', sa.String(length=32), nullable=False),
    sa.Column('codes', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    _now('created_at'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_no', name='code_batch_once')
    )
    op.create_table('product_codes',
    sa.Column('code', CODE, nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.UUID(), nullable=True),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code', name='product_codes_pkey',
                            postgresql_include=['dealer_id', 'product_id', 'region']),
    sa.UniqueConstraint('batch_id', 'serial', name='code_serial')
    )
    op.create_index('code_order', 'product_codes', ['order_id'], unique=False, postgresql_where='order_id is not null')
    op.create_table('scans',
    sa.Column('scan_id', CODE, nullable=False),
    sa.Column('code', CODE, nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('price', MONEY, nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    _now('received_at'),
    sa.CheckConstraint("kind in ('store', 'consumer', 'inspector')", name='scan_kind'),
    sa.PrimaryKeyConstraint('scan_id')
    )
    op.create_index('scan_code', 'scans', ['code'], unique=False)
    op.create_table('diversion_cases',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_alert_at', sa.DateTime(timezone=True), nullable=False),
    _now('opened_at'),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('assessment', JSON, nullable=True),
    sa.Column('task_id', sa.UUID(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.CheckConstraint("status in ('open', 'confirmed', 'dismissed')", name='case_status'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('case_open_once', 'diversion_cases', ['dealer_id', 'product_id', 'region'], unique=True,
                    postgresql_where="status = 'open'", postgresql_nulls_not_distinct=True)
    op.create_index('case_region_status', 'diversion_cases', ['region', 'status', 'id'], unique=False)
    op.create_index('case_dealer', 'diversion_cases', ['dealer_id', 'status'], unique=False)
    op.create_index('case_unstarted', 'diversion_cases', ['opened_at'], unique=False,
                    postgresql_where="status = 'open' and started_at is null")
    op.create_table('diversion_alerts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('scan_id', CODE, nullable=True),
    sa.Column('code', CODE, nullable=True),
    sa.Column('dealer_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('price', MONEY, nullable=True),
    sa.Column('guide_price', MONEY, nullable=True),
    sa.Column('units', sa.Integer(), nullable=True),
    sa.Column('baseline', sa.Numeric(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    _now('created_at'),
    sa.CheckConstraint("trigger in ('out_of_region', 'price', 'regional_excess', 'stock_up', 'unknown_code')",
                       name='alert_trigger'),
    sa.ForeignKeyConstraint(['case_id'], ['diversion_cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('alert_case', 'diversion_alerts', ['case_id', 'id'], unique=False)
    op.create_index('alert_pattern', 'diversion_alerts', ['dealer_id', 'product_id', 'trigger', 'at'], unique=False,
                    postgresql_where="trigger in ('regional_excess', 'stock_up')")
    op.create_table('credit_points',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    _now('created_at'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_type', 'source_id', name='credit_points_once')
    )
    op.create_index('credit_points_dealer', 'credit_points', ['dealer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('credit_points_dealer', table_name='credit_points')
    op.drop_table('credit_points')
    op.drop_index('alert_pattern', table_name='diversion_alerts')
    op.drop_index('alert_case', table_name='diversion_alerts')
    op.drop_table('diversion_alerts')
    op.drop_index('case_unstarted', table_name='diversion_cases')
    op.drop_index('case_dealer', table_name='diversion_cases')
    op.drop_index('case_region_status', table_name='diversion_cases')
    op.drop_index('case_open_once', table_name='diversion_cases')
    op.drop_table('diversion_cases')
    op.drop_index('scan_code', table_name='scans')
    op.drop_table('scans')
    op.drop_index('code_order', table_name='product_codes', postgresql_where='order_id is not null')
    op.drop_table('product_codes')
    op.drop_table('code_batches')
    op.drop_column('products', 'guide_price')
