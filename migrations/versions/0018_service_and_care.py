"""dealer service and care: requests with SLA clocks on the working calendar, their threads and events;
birthday and anniversary care, account managers' contact tasks and contacts; points redemptions;
announcements and dealer conversations

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-02 07:15:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0019'
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
JSON = postgresql.JSONB()


def _when(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.execute("create sequence service_request_number start 1001")
    op.create_table(
        'service_requests',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('number', sa.BigInteger(), server_default=sa.text("nextval('service_request_number')"),
                  nullable=False, unique=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('category', sa.String(32), nullable=False),
        sa.Column('subject', sa.String(200), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('tier', sa.String(32), nullable=False),
        sa.Column('region', sa.String(64), nullable=False),
        sa.Column('assignee_role', sa.String(32), nullable=False),
        sa.Column('assignee_user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('escalate_to', sa.String(32), nullable=True),
        sa.Column('task_id', UUID, nullable=True),
        sa.Column('workflow_id', sa.String(128), nullable=False),
        sa.Column('ruleset_version', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(16), nullable=True),
        sa.Column('satisfaction', sa.Integer(), nullable=True),
        sa.Column('satisfaction_comment', sa.Text(), nullable=True),
        _when('rated_at'),
        sa.Column('filed_by', sa.String(64), nullable=False),
        _when('first_response_at'), _when('closed_at'),
        sa.Column('closed_by', sa.String(64), nullable=True),
        sa.Column('reopened', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status in ('open', 'in_progress', 'waiting_dealer', 'closed')", name='service_status'),
        sa.CheckConstraint("satisfaction is null or rated_at is not null", name='service_rated'),
    )
    op.create_index('service_request_dealer', 'service_requests', ['dealer_id', 'created_at'])
    op.create_index('service_request_open', 'service_requests', ['status', 'created_at'],
                    postgresql_where=sa.text("status <> 'closed'"))
    op.create_table(
        'service_messages',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('request_id', UUID, sa.ForeignKey('service_requests.id'), nullable=False),
        sa.Column('author', sa.String(64), nullable=False),
        sa.Column('author_role', sa.String(32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('attachments', JSON, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('ix_service_messages_request_id', 'service_messages', ['request_id'])
    op.create_table(
        'service_clocks',
        sa.Column('request_id', UUID, sa.ForeignKey('service_requests.id'), primary_key=True),
        sa.Column('clock', sa.String(16), primary_key=True),
        sa.Column('tier', sa.String(32), nullable=False),
        sa.Column('target_s', sa.Integer(), nullable=False),
        sa.Column('used_s', sa.Integer(), nullable=False),
        _when('running_since'), _when('due_at'), _when('remind_at'), _when('reminded_at'), _when('breached_at'),
        _when('stopped_at'),
        sa.Column('met', sa.Boolean(), nullable=True),
        sa.CheckConstraint("clock in ('response', 'resolution')", name='service_clock_kind'),
    )
    op.create_index('service_clock_due', 'service_clocks', ['due_at'],
                    postgresql_where=sa.text("stopped_at is null and breached_at is null"))
    op.create_index('service_clock_remind', 'service_clocks', ['remind_at'],
                    postgresql_where=sa.text("stopped_at is null and reminded_at is null"))
    op.create_table(
        'service_events',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('request_id', UUID, sa.ForeignKey('service_requests.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('action', sa.String(32), nullable=False),
        sa.Column('detail', JSON, nullable=False),
    )
    op.create_index('ix_service_events_request_id', 'service_events', ['request_id'])
    op.create_table(
        'care_events',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('occasion', sa.String(16), nullable=False),
        sa.Column('on_date', sa.Date(), nullable=False),
        sa.Column('years', sa.Integer(), nullable=True),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint('dealer_id', 'occasion', 'on_date', name='care_once'),
    )
    op.create_index('care_event_day', 'care_events', ['on_date'])
    op.create_table(
        'contact_tasks',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('account_manager', sa.String(64), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        _when('done_at'),
        sa.Column('contact_id', sa.BigInteger(), nullable=True),
    )
    op.create_index('contact_task_open', 'contact_tasks', ['dealer_id'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index('contact_task_manager', 'contact_tasks', ['account_manager', 'due_on'],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        'dealer_contacts',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('by', sa.String(64), nullable=False),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('dealer_contact_latest', 'dealer_contacts', ['dealer_id', 'at'])
    op.create_table(
        'redemptions',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('item', sa.String(32), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('task_id', UUID, nullable=False),
        sa.Column('requested_by', sa.String(64), nullable=False),
        sa.Column('decided_by', sa.String(64), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        _when('decided_at'),
        sa.CheckConstraint("status in ('requested', 'fulfilled', 'refused')", name='redemption_status'),
    )
    op.create_index('ix_redemptions_dealer_id', 'redemptions', ['dealer_id'])
    op.create_table(
        'announcements',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('ack_required', sa.Boolean(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('published_by', sa.String(64), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        'announcement_recipients',
        sa.Column('announcement_id', sa.BigInteger(), sa.ForeignKey('announcements.id'), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), primary_key=True),
        _when('read_at'), _when('acked_at'),
    )
    op.create_index('announcement_dealer', 'announcement_recipients', ['dealer_id', 'announcement_id'])
    op.create_table(
        'conversation_messages',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('author', sa.String(64), nullable=False),
        sa.Column('from_dealer', sa.Boolean(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('conversation_dealer', 'conversation_messages', ['dealer_id', 'id'])
    op.create_table(
        'conversation_reads',
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), primary_key=True),
        sa.Column('reader', sa.String(64), primary_key=True),
        sa.Column('last_read_id', sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ('conversation_reads', 'conversation_messages', 'announcement_recipients', 'announcements',
                  'redemptions', 'dealer_contacts', 'contact_tasks', 'care_events', 'service_events', 'service_clocks', 'service_messages', 'service_requests'):
        op.drop_table(table)
    op.execute("drop sequence service_request_number")
