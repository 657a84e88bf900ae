"""HQ warehouses and stock per SKU, stock allocations of order lines (reserved, backordered, released,
consumed), stock movements, and the outbox of order workflow starts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.text('now()')
    op.create_table(
        'warehouses',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(32), nullable=False, unique=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('region', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False))
    op.create_table(
        'stock',
        sa.Column('warehouse_id', sa.Integer(), sa.ForeignKey('warehouses.id'), primary_key=True),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), primary_key=True),
        sa.Column('on_hand', sa.Integer(), nullable=False),
        sa.Column('reserved', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint('on_hand >= 0', name='stock_on_hand'),
        sa.CheckConstraint('reserved >= 0 and reserved <= on_hand', name='stock_reserved'))
    op.create_index('stock_product', 'stock', ['product_id'])
    op.create_table(
        'stock_allocations',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('order_id', UUID(as_uuid=True), sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), sa.ForeignKey('warehouses.id'), nullable=True),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint('quantity > 0', name='allocation_quantity'),
        sa.CheckConstraint("status in ('reserved', 'backordered', 'released', 'consumed')", name='allocation_status'),
        sa.CheckConstraint("status = 'released' or (warehouse_id is null) = (status = 'backordered')", name='allocation_warehouse'))
    op.create_index('allocation_order', 'stock_allocations', ['order_id'])
    op.create_index('allocation_backorders', 'stock_allocations', ['product_id', 'priority', 'created_at'],
                    postgresql_where=sa.text("status = 'backordered'"))
    op.create_table(
        'stock_movements',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('warehouse_id', sa.Integer(), sa.ForeignKey('warehouses.id'), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('products.id'), nullable=False),
        sa.Column('delta', sa.Integer(), nullable=False),
        sa.Column('on_hand', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('reference', sa.String(128), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=now, nullable=False))
    op.create_index('stock_movement_stock', 'stock_movements', ['warehouse_id', 'product_id', 'at'])
    op.create_table(
        'order_starts',
        sa.Column('order_id', UUID(as_uuid=True), sa.ForeignKey('orders.id'), primary_key=True),
        sa.Column('queued_at', sa.DateTime(timezone=True), server_default=now, nullable=False))


def downgrade() -> None:
    for table in ('order_starts', 'stock_movements', 'stock_allocations', 'stock', 'warehouses'):
        op.drop_table(table)
