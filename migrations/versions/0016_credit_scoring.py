"""credit scoring from payment behaviour: monthly runs and every dealer's scorecard

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 07:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('credit_runs',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('workflow_id', sa.String(length=128), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totals', JSON, nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('credit_scores',
    sa.Column('run_month', sa.String(length=7), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('old_rating', sa.String(length=1), nullable=False),
    sa.Column('new_rating', sa.String(length=1), nullable=False),
    sa.Column('override', sa.String(length=64), nullable=True),
    sa.Column('old_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('proposed_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('approvals', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('figures', JSON, nullable=False),
    sa.Column('explanation', JSON, nullable=False),
    sa.Column('approvers', JSON, nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('unchanged', 'proposed', 'applied', 'awaiting_approval', 'rejected')",
                       name='credit_score_status'),
    sa.CheckConstraint('approvals between 0 and 2', name='credit_score_approvals'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['run_month'], ['credit_runs.month'], ),
    sa.PrimaryKeyConstraint('run_month', 'dealer_id')
    )
    op.create_index('credit_score_dealer', 'credit_scores', ['dealer_id', 'run_month'], unique=False)
    op.create_index('credit_score_status', 'credit_scores', ['run_month', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('credit_score_status', table_name='credit_scores')
    op.drop_index('credit_score_dealer', table_name='credit_scores')
    op.drop_table('credit_scores')
    op.drop_table('credit_runs')
