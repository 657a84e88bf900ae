"""staff scopes and idempotent orders: the region manager role with its region, and the request
fingerprint an Idempotency-Key is bound to

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ROLES = "'admin', 'hq', 'credit_manager', 'account_manager', 'finance', 'dealer'"


def upgrade() -> None:
    op.add_column('users', sa.Column('region', sa.String(length=64), nullable=True))
    op.drop_constraint('user_role', 'users', type_='check')
    op.create_check_constraint('user_role', 'users', f"role in ({ROLES}, 'region_manager')")
    op.create_check_constraint('user_region_scope', 'users', "(role = 'region_manager') = (region is not null)")
    op.add_column('orders', sa.Column('request_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'request_fingerprint')
    op.drop_constraint('user_region_scope', 'users', type_='check')
    op.execute("delete from users where role = 'region_manager'")
    op.drop_constraint('user_role', 'users', type_='check')
    op.create_check_constraint('user_role', 'users', f"role in ({ROLES})")
    op.drop_column('users', 'region')
