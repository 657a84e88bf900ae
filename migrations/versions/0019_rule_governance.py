"""rule governance: what-if replay reports, rule change proposals with their second person's decision,
effective dates and shadow versions of rule files, the context and shadow outcomes kept with each decision

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-02 07:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('rule_versions', sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True))
    op.add_column('rule_versions', sa.Column('effective_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('rule_versions', sa.Column('mode', sa.String(16), nullable=False, server_default='active'))
    op.add_column('rule_versions', sa.Column('shadow_ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('rule_versions', sa.Column('proposal_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.create_check_constraint('rule_version_mode', 'rule_versions', "mode in ('active', 'shadow')")
    op.add_column('decisions', sa.Column('context', postgresql.JSONB(), nullable=True))
    op.add_column('decisions', sa.Column('shadow', postgresql.JSONB(), nullable=True))
    op.create_index('decision_ruleset_time', 'decisions', ['ruleset', 'decided_at'])
    op.create_table(
        'replay_reports',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('ruleset', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('candidate_sha256', sa.String(64), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('totals', postgresql.JSONB(), nullable=False),
        sa.Column('breakdown', postgresql.JSONB(), nullable=False),
        sa.Column('samples', postgresql.JSONB(), nullable=False),
        sa.Column('content_hash', sa.String(64), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('replay_report_ruleset', 'replay_reports', ['ruleset', 'created_at'])
    op.create_table(
        'rule_proposals',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('ruleset', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('mode', sa.String(16), nullable=False, server_default='active'),
        sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True),
        sa.Column('effective_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tests', postgresql.JSONB(), nullable=False),
        sa.Column('report_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('replay_reports.id'), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('approver_role', sa.String(32), nullable=False),
        sa.Column('task_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('workflow_id', sa.String(128), nullable=True),
        sa.Column('proposed_by', sa.String(64), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False, server_default=''),
        sa.Column('decided_by', sa.String(64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_comment', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('emergency', sa.Boolean(), nullable=False, server_default='false'),
        sa.CheckConstraint("status in ('open', 'approved', 'rejected', 'withdrawn', 'stale')",
                           name='rule_proposal_status'),
    )
    op.create_index('rule_proposal_open', 'rule_proposals', ['ruleset', 'status'])
    op.create_table(
        'rule_audit',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('ruleset', sa.String(64), nullable=False),
        sa.Column('action', sa.String(32), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('proposal_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(64), nullable=True),
        sa.Column('note', sa.Text(), nullable=False, server_default=''),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('rule_audit_ruleset', 'rule_audit', ['ruleset', 'at'])


def downgrade() -> None:
    op.drop_table('rule_audit')
    op.drop_table('rule_proposals')
    op.drop_table('replay_reports')
    op.drop_index('decision_ruleset_time', 'decisions')
    op.drop_column('decisions', 'shadow')
    op.drop_column('decisions', 'context')
    op.drop_constraint('rule_version_mode', 'rule_versions')
    for c in ('proposal_id', 'shadow_ended_at', 'mode', 'effective_until', 'effective_from'):
        op.drop_column('rule_versions', c)
