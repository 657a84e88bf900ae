"""shadow outcomes of the kinds whose live decisions are not rows of `decisions` (credit scorecards,
inventory advice, service targets)

Revision ID: 0024
Revises: 0017
Create Date: 2026-12-02 11:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0024'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'shadow_outcomes',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('ruleset', sa.String(64), nullable=False),
        sa.Column('subject', sa.String(128), nullable=False),
        sa.Column('live_version', sa.Integer(), nullable=False),
        sa.Column('live', sa.String(200), nullable=False),
        sa.Column('live_reason', sa.Text(), nullable=False),
        sa.Column('shadow', postgresql.JSONB(), nullable=False),
        sa.Column('context', postgresql.JSONB(), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint('ruleset', 'subject', name='shadow_outcome_once'))
    op.create_index('shadow_outcome_ruleset_time', 'shadow_outcomes', ['ruleset', 'decided_at'])


def downgrade() -> None:
    op.drop_table('shadow_outcomes')
