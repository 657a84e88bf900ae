"""channel inventory: dealers' stock reports and sell-through (a scan of kind sale counts as one),
safety stock and replenishment opt-ins, daily health runs with their figures and advice,
replenishment drafts and demand forecasts

Revision ID: 0017
Revises: 0018
Create Date: 2026-12-02 07:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0018'
branch_labels = None
depends_on = None


def _now():
    return sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.drop_constraint('scan_kind', 'scans')
    op.create_check_constraint('scan_kind', 'scans', "kind in ('store', 'consumer', 'inspector', 'sale')")

    op.create_table(
        'stock_reports',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('on_hand', sa.Integer(), nullable=False),
        sa.Column('in_transit', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('reported_by', sa.String(64), nullable=False),
        sa.Column('current', sa.Boolean(), nullable=False, server_default='true'),
        _now(),
        sa.CheckConstraint('on_hand >= 0 and in_transit >= 0', name='stock_report_quantities'),
        sa.CheckConstraint("source in ('api', 'upload', 'form')", name='stock_report_source'))
    op.create_index('stock_report_current', 'stock_reports', ['dealer_id', 'product_id', 'day'], unique=True,
                    postgresql_where=sa.text('current'))
    op.create_index('stock_report_day', 'stock_reports', ['day'], postgresql_where=sa.text('current'))

    op.create_table(
        'sell_through',
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('source', sa.String(8), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('reported_by', sa.String(64), nullable=False),
        _now(),
        sa.PrimaryKeyConstraint('dealer_id', 'product_id', 'day', 'source'),
        sa.CheckConstraint('quantity >= 0', name='sell_through_quantity'),
        sa.CheckConstraint("source in ('feed', 'scan')", name='sell_through_source'))
    op.create_index('sell_through_day', 'sell_through', ['day'])

    op.create_table(
        'inventory_settings',
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('safety_stock', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('dealer_id', 'product_id'),
        sa.CheckConstraint('safety_stock >= 0', name='inventory_safety_stock'))

    op.create_table(
        'replenishment_opt_ins',
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), primary_key=True),
        sa.Column('updated_by', sa.String(64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False))

    op.create_table(
        'inventory_runs',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('scope', sa.String(64), nullable=False),
        sa.Column('ruleset_version', sa.Integer(), nullable=False),
        sa.Column('workflow_id', sa.String(128), nullable=False),
        sa.Column('stage', sa.String(32), nullable=False),
        sa.Column('totals', postgresql.JSONB(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('day', 'scope'))

    op.create_table(
        'inventory_health',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('region', sa.String(64), nullable=False),
        sa.Column('on_hand', sa.Integer(), nullable=False),
        sa.Column('in_transit', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('report_day', sa.Date(), nullable=True),
        sa.Column('report_age_days', sa.Integer(), nullable=True),
        sa.Column('sold', sa.Integer(), nullable=False),
        sa.Column('received', sa.Integer(), nullable=False),
        sa.Column('daily_sales', sa.Numeric(14, 4), nullable=False),
        sa.Column('daily_demand', sa.Numeric(14, 4), nullable=False),
        sa.Column('demand_source', sa.String(16), nullable=False),
        sa.Column('turnover_days', sa.Numeric(10, 1), nullable=True),
        sa.Column('cover_days', sa.Numeric(10, 1), nullable=True),
        sa.Column('sell_through_rate', sa.Numeric(6, 4), nullable=True),
        sa.Column('stock_value', sa.Numeric(14, 2), nullable=False),
        sa.Column('slow_value', sa.Numeric(14, 2), nullable=False),
        sa.Column('stock_age_days', sa.Integer(), nullable=True),
        sa.Column('orders_by_month', postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column('rising_months', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'dealer_id', 'product_id'))

    op.create_table(
        'inventory_advice',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('action', sa.String(24), nullable=False),
        sa.Column('severity', sa.String(8), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=True),
        sa.Column('audience', postgresql.ARRAY(sa.String(24)), nullable=False),
        sa.Column('explanation', postgresql.JSONB(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False, server_default='open'),
        sa.Column('draft_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('task_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint('day', 'dealer_id', 'product_id', 'action', name='inventory_advice_once'),
        sa.CheckConstraint("action in ('clearance', 'cut_replenishment', 'reorder', 'push_promotion')",
                           name='inventory_advice_action'),
        sa.CheckConstraint("status in ('open', 'drafted', 'ordered', 'dismissed', 'policy_drafted')",
                           name='inventory_advice_status'))
    op.create_index('inventory_advice_dealer', 'inventory_advice', ['dealer_id', 'day'])

    op.create_table(
        'replenishment_drafts',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('automatic', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False, server_default='draft'),
        sa.Column('lines', postgresql.JSONB(), nullable=False),
        sa.Column('order_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('placed_by', sa.String(64), nullable=True),
        sa.UniqueConstraint('dealer_id', 'day', name='replenishment_draft_once'),
        sa.CheckConstraint("status in ('draft', 'placed', 'dismissed')", name='replenishment_draft_status'))

    op.create_table(
        'demand_forecasts',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('scope', sa.String(8), nullable=False),
        sa.Column('region', sa.String(64), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('fitted_on', sa.Date(), nullable=False),
        sa.Column('model', sa.String(32), nullable=False),
        sa.Column('intermittent', sa.Boolean(), nullable=False),
        sa.Column('horizon_days', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Numeric(14, 2), nullable=False),
        sa.Column('daily', sa.Numeric(14, 4), nullable=False),
        sa.Column('mase', sa.Numeric(10, 4), nullable=True),
        sa.Column('baseline_mase', sa.Numeric(10, 4), nullable=True),
        sa.Column('actual', sa.Numeric(14, 2), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint('scope', 'region', 'dealer_id', 'product_id', 'fitted_on', name='demand_forecast_once'),
        sa.CheckConstraint("scope in ('region', 'dealer')", name='demand_forecast_scope'))
    op.create_index('demand_forecast_latest', 'demand_forecasts', ['dealer_id', 'product_id', 'fitted_on'])


def downgrade() -> None:
    for table in ('demand_forecasts', 'replenishment_drafts', 'inventory_advice', 'inventory_health', 'inventory_runs',
                  'replenishment_opt_ins', 'inventory_settings', 'sell_through', 'stock_reports'):
        op.drop_table(table)
    op.execute("delete from scans where kind = 'sale'")
    op.drop_constraint('scan_kind', 'scans')
    op.create_check_constraint('scan_kind', 'scans', "kind in ('store', 'consumer', 'inspector')")
