"""process failures: steps of processes that keep failing or failed for good

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.create_table('process_failures',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('workflow_type', sa.String(length=100), nullable=False),
    sa.Column('activity', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('link', sa.String(length=300), nullable=True),
    _now('first_at'),
    _now('last_at'),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('failing', 'failed', 'resolved')", name='failure_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workflow_id', 'activity', name='failure_once')
    )
    op.create_index('failure_open', 'process_failures', ['last_at'], unique=False,
                    postgresql_where="state <> 'resolved'")


def downgrade() -> None:
    op.drop_index('failure_open', table_name='process_failures')
    op.drop_table('process_failures')
