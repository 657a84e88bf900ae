"""settlement_figures: the facts and figures a settlement run read for every dealer it evaluated,
eligible or not, so a replay of a candidate program is exact for dealers without a statement

Revision ID: 0026
Revises: 0023
Create Date: 2026-12-02 12:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0026'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'settlement_figures',
        sa.Column('run_id', sa.String(160), sa.ForeignKey('settlement_runs.id'), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), primary_key=True),
        sa.Column('eligible', sa.Boolean(), nullable=False),
        sa.Column('facts', postgresql.JSONB(), nullable=False),
        sa.Column('figures', postgresql.JSONB(), nullable=False))


def downgrade() -> None:
    op.drop_table('settlement_figures')
