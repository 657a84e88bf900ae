"""channel inventory: scan rows of sell-through by their own index (the health run reads the feed
rows in one pass and these few apart)

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-02 11:15:00
"""
from alembic import op

revision = '0021'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('sell_through_scans', 'sell_through', ['dealer_id', 'product_id', 'day'],
                    postgresql_where="source = 'scan'")


def downgrade() -> None:
    op.drop_index('sell_through_scans', 'sell_through')
