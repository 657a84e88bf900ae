"""master data a manufacturer maintains: dealer legal name, place, contact, cooperation start,
payment terms and status; product unit, pack size and active; user display name, phone and active

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BEIJING_TODAY = "(now() at time zone 'Asia/Shanghai')::date"


def upgrade() -> None:
    for name, type_ in (('legal_name', sa.String(200)), ('province', sa.String(32)), ('city', sa.String(32)),
                        ('contact_name', sa.String(64)), ('contact_phone', sa.String(32)),
                        ('contact_birthday', sa.Date())):
        op.add_column('dealers', sa.Column(name, type_, nullable=True))
    op.add_column('dealers', sa.Column('cooperation_since', sa.Date(), nullable=True))
    # Existing dealers cooperated since they were entered (in Beijing time).
    op.execute("update dealers set cooperation_since = (created_at at time zone 'Asia/Shanghai')::date")
    op.alter_column('dealers', 'cooperation_since', nullable=False, server_default=sa.text(BEIJING_TODAY))
    op.add_column('dealers', sa.Column('payment_terms_days', sa.Integer(), nullable=False, server_default='30'))
    op.add_column('dealers', sa.Column('status', sa.String(16), nullable=False, server_default='active'))
    op.create_check_constraint('dealer_status', 'dealers', "status in ('active', 'suspended', 'ended')")
    op.create_check_constraint('dealer_payment_terms', 'dealers', 'payment_terms_days >= 0')
    op.add_column('products', sa.Column('unit', sa.String(16), nullable=False, server_default='件'))
    op.add_column('products', sa.Column('pack_size', sa.Integer(), nullable=False, server_default='1'))
    op.add_column('products', sa.Column('active', sa.Boolean(), nullable=False, server_default='true'))
    op.create_check_constraint('product_pack_size', 'products', 'pack_size >= 1')
    op.add_column('users', sa.Column('display_name', sa.String(64), nullable=True))
    op.add_column('users', sa.Column('phone', sa.String(32), nullable=True))
    op.add_column('users', sa.Column('active', sa.Boolean(), nullable=False, server_default='true'))


def downgrade() -> None:
    for name in ('display_name', 'phone', 'active'):
        op.drop_column('users', name)
    op.drop_constraint('product_pack_size', 'products')
    for name in ('unit', 'pack_size', 'active'):
        op.drop_column('products', name)
    op.drop_constraint('dealer_status', 'dealers')
    op.drop_constraint('dealer_payment_terms', 'dealers')
    for name in ('legal_name', 'province', 'city', 'contact_name', 'contact_phone', 'contact_birthday',
                 'cooperation_since', 'payment_terms_days', 'status'):
        op.drop_column('dealers', name)
