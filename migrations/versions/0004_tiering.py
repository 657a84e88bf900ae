"""tiering: scores, tier history, re-tiering runs, silent dealers and activation tasks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('tiering_runs',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workflow_id', sa.String(length=128), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approval', JSON, nullable=True),
    sa.Column('totals', JSON, nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('tier_scores',
    sa.Column('run_month', sa.String(length=7), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('dimensions', JSON, nullable=False),
    sa.Column('old_tier', sa.String(length=32), nullable=False),
    sa.Column('new_tier', sa.String(length=32), nullable=False),
    sa.Column('override', sa.String(length=64), nullable=True),
    sa.Column('old_tags', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('new_tags', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('rule_tags', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('explanation', JSON, nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('unchanged', 'proposed', 'applied', 'awaiting_approval', 'rejected')",
                       name='tier_score_status'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['run_month'], ['tiering_runs.month'], ),
    sa.PrimaryKeyConstraint('run_month', 'dealer_id')
    )
    op.create_index('tier_score_dealer', 'tier_scores', ['dealer_id', 'run_month'], unique=False)
    op.create_index('tier_score_status', 'tier_scores', ['run_month', 'status'], unique=False)
    op.create_table('silent_dealers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('run_month', sa.String(length=7), nullable=False),
    sa.Column('silent_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_manager', sa.String(length=64), nullable=True),
    sa.Column('actions', JSON, nullable=False),
    sa.Column('task_id', sa.UUID(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activation_order_id', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['run_month'], ['tiering_runs.month'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('silent_open', 'silent_dealers', ['dealer_id'], unique=True,
                    postgresql_where='activated_at is null')
    op.create_index('silent_flagged', 'silent_dealers', ['flagged_at'], unique=False)


def downgrade() -> None:
    op.drop_index('silent_flagged', table_name='silent_dealers')
    op.drop_index('silent_open', table_name='silent_dealers', postgresql_where='activated_at is null')
    op.drop_table('silent_dealers')
    op.drop_index('tier_score_status', table_name='tier_scores')
    op.drop_index('tier_score_dealer', table_name='tier_scores')
    op.drop_table('tier_scores')
    op.drop_table('tiering_runs')
