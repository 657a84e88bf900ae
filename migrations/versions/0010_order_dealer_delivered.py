"""orders by dealer and delivery time: a set of dealers' deliveries in a period (scoped reports)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('order_dealer_delivered', 'orders', ['dealer_id', 'delivered_at'],
                    postgresql_where='delivered_at is not null')


def downgrade() -> None:
    op.drop_index('order_dealer_delivered', table_name='orders')
