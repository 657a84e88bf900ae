"""rule proposals: their comment thread, and the outbox of their workflows' starts (a proposal saved
while Temporal is unreachable opens its approval task from the sweep)

Revision ID: 0025
Revises: 0017
Create Date: 2026-12-02 11:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0025'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rule_proposal_comments',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('proposal_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('rule_proposals.id'), nullable=False),
        sa.Column('author', sa.String(64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('rule_proposal_comment_proposal', 'rule_proposal_comments', ['proposal_id', 'id'])
    op.create_table(
        'rule_proposal_starts',
        sa.Column('proposal_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('rule_proposals.id'), primary_key=True),
        sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('rule_proposal_starts')
    op.drop_index('rule_proposal_comment_proposal', 'rule_proposal_comments')
    op.drop_table('rule_proposal_comments')
