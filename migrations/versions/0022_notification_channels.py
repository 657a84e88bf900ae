"""notification channels: people's addresses, preferences and quiet hours, deliveries with their
attempts (retries, dead letters), attachments of announcements and conversation messages

Revision ID: 0022
Revises: 0017
Create Date: 2026-12-02 11:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0017'
branch_labels = None
depends_on = None

CHANNEL = "channel in ('sms', 'wecom_app')"


def _now(name):
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'notification_addresses',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
        sa.Column('channel', sa.String(16), primary_key=True),
        sa.Column('address', sa.String(64), nullable=False),
        _now('updated_at'),
        sa.CheckConstraint(CHANNEL, name='notification_address_channel'))
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
        sa.Column('kind', sa.String(32), primary_key=True),
        sa.Column('channel', sa.String(16), primary_key=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.CheckConstraint(CHANNEL, name='notification_preference_channel'))
    op.create_table(
        'notification_profiles',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
        sa.Column('quiet_start', sa.String(5)),
        sa.Column('quiet_end', sa.String(5)),
        sa.Column('updated_by', sa.String(64), nullable=False),
        _now('updated_at'),
        sa.CheckConstraint('(quiet_start is null) = (quiet_end is null)', name='notification_quiet_pair'))
    op.create_table(
        'notification_deliveries',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('notification_id', sa.BigInteger(), sa.ForeignKey('notifications.id'), nullable=False),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('address', sa.String(64), nullable=False, server_default=''),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id')),
        sa.Column('status', sa.String(8), nullable=False, server_default='pending'),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        _now('next_at'),
        sa.Column('last_error', sa.Text()),
        _now('created_at'),
        sa.Column('sent_at', sa.DateTime(timezone=True)),
        sa.Column('dead_at', sa.DateTime(timezone=True)),
        sa.UniqueConstraint('notification_id', 'channel', 'address', name='notification_delivery_once'),
        sa.CheckConstraint("status in ('pending', 'sent', 'dead')", name='notification_delivery_status'))
    op.create_index('notification_delivery_due', 'notification_deliveries', ['next_at'],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('notification_delivery_dead', 'notification_deliveries', ['dead_at'],
                    postgresql_where=sa.text("status = 'dead'"))
    op.create_table(
        'delivery_attempts',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('delivery_id', sa.BigInteger(), sa.ForeignKey('notification_deliveries.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(8), nullable=False),
        sa.Column('error', sa.Text()),
        sa.CheckConstraint("outcome in ('sent', 'retry', 'dead')", name='delivery_attempt_outcome'))
    op.create_index('ix_delivery_attempts_delivery_id', 'delivery_attempts', ['delivery_id'])
    op.create_table(
        'message_attachments',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('announcement_id', sa.BigInteger(), sa.ForeignKey('announcements.id')),
        sa.Column('message_id', sa.BigInteger(), sa.ForeignKey('conversation_messages.id')),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('filename', sa.String(200), nullable=False),
        sa.Column('content_type', sa.String(100), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        _now('created_at'),
        sa.CheckConstraint('(announcement_id is null) <> (message_id is null)', name='attachment_owner'))
    op.create_index('ix_message_attachments_announcement_id', 'message_attachments', ['announcement_id'])
    op.create_index('ix_message_attachments_message_id', 'message_attachments', ['message_id'])


def downgrade() -> None:
    for table in ('message_attachments', 'delivery_attempts', 'notification_deliveries', 'notification_profiles',
                  'notification_preferences', 'notification_addresses'):
        op.drop_table(table)
