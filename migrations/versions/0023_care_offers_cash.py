"""care offers beyond points (coupon-like credits, a rebate's anniversary extra) and the money of cash
redemptions

Revision ID: 0023
Revises: 0017
Create Date: 2026-12-02 11:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0023'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'care_offers',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('event_id', sa.BigInteger(), sa.ForeignKey('care_events.id'), nullable=False),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('program', sa.String(64), nullable=False, server_default=''),
        sa.Column('amount', sa.Numeric(14, 2), nullable=True),
        sa.Column('rate', sa.Numeric(7, 6), nullable=True),
        sa.Column('applies', sa.Boolean(), nullable=False),
        sa.Column('explanation', postgresql.JSONB(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint('event_id', 'kind', 'program', name='care_offer_once'),
        sa.CheckConstraint("kind in ('credit', 'rebate_extra')", name='care_offer_kind'),
    )
    op.create_index('ix_care_offers_dealer_id', 'care_offers', ['dealer_id'])
    op.create_table(
        'redemption_cash',
        sa.Column('redemption_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('redemptions.id'), primary_key=True),
        sa.Column('program', sa.String(64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('per_point', sa.Numeric(14, 2), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('redemption_cash')
    op.drop_index('ix_care_offers_dealer_id', 'care_offers')
    op.drop_table('care_offers')
