"""logistics to the dealer's receipt: parcels with carrier and waybill, raw tracking payloads
(append-only), de-duplicated tracking events, unmatched waybills, damage/shortage reports; the
diversion alert of a parcel signed outside the dealer's region

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 07:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TRIGGERS = "'out_of_region', 'price', 'regional_excess', 'stock_up', 'unknown_code'"


def _now():
    return sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'parcels',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('order_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('dealer_id', sa.Integer(), sa.ForeignKey('dealers.id'), nullable=False),
        sa.Column('provider', sa.String(32), nullable=False),
        sa.Column('carrier', sa.String(32), nullable=False),
        sa.Column('waybill', sa.String(64), nullable=False),
        sa.Column('state', sa.String(24), nullable=False, server_default='created'),
        sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_event_at', sa.DateTime(timezone=True)),
        sa.Column('signed_at', sa.DateTime(timezone=True)),
        sa.Column('signed_place', sa.String(200)),
        sa.Column('signed_province', sa.String(32)),
        sa.Column('signed_city', sa.String(32)),
        sa.Column('receipt', sa.String(16), nullable=False, server_default='open'),
        sa.Column('received_at', sa.DateTime(timezone=True)),
        sa.Column('received_by', sa.String(64)),
        sa.Column('auto_confirmed', sa.Boolean(), nullable=False, server_default='false'),
        sa.Column('receipt_delivers', sa.Boolean(), nullable=False, server_default='false'),
        sa.Column('workflow_id', sa.String(128), nullable=False),
        sa.Column('workflow_told', sa.Boolean(), nullable=False, server_default='false'),
        sa.Column('recorded_by', sa.String(64), nullable=False),
        _now(),
        sa.UniqueConstraint('carrier', 'waybill', name='parcel_waybill'),
        sa.CheckConstraint("state in ('created', 'in_transit', 'at_destination_city', 'out_for_delivery', 'signed', "
                           "'exception', 'returned')", name='parcel_state'),
        sa.CheckConstraint("receipt in ('open', 'confirmed', 'auto_confirmed', 'reported')", name='parcel_receipt'),
    )
    op.create_index('parcel_order', 'parcels', ['order_id'])
    op.create_index('parcel_dealer', 'parcels', ['dealer_id', 'created_at'])
    op.create_index('parcel_untold', 'parcels', ['signed_at'],
                    postgresql_where=sa.text("state = 'signed' and not workflow_told"))
    op.create_table(
        'tracking_payloads',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('provider', sa.String(32), nullable=False),
        sa.Column('source', sa.String(8), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("source in ('push', 'poll')", name='payload_source'),
    )
    op.create_index('payload_received', 'tracking_payloads', ['received_at'])
    # The raw payloads are the record of what carriers said: never changed, never deleted.
    op.execute("""
        create function tracking_payloads_append_only() returns trigger language plpgsql as $$
        begin raise exception 'tracking_payloads is append-only'; end $$""")
    op.execute("""create trigger tracking_payloads_append_only before update or delete on tracking_payloads
                  for each row execute function tracking_payloads_append_only()""")
    op.create_table(
        'tracking_events',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('parcel_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('parcels.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(24), nullable=False),
        sa.Column('code', sa.String(16), nullable=False),
        sa.Column('text', sa.String(500), nullable=False),
        sa.Column('place', sa.String(200), nullable=False),
        sa.Column('digest', sa.String(32), nullable=False),
        sa.Column('payload_id', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('parcel_id', 'at', 'state', 'digest', name='tracking_event_once'),
    )
    op.create_table(
        'unmatched_waybills',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('provider', sa.String(32), nullable=False),
        sa.Column('carrier', sa.String(32), nullable=False),
        sa.Column('waybill', sa.String(64), nullable=False),
        sa.Column('pushes', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('last_payload_id', sa.BigInteger(), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('matched_at', sa.DateTime(timezone=True)),
        sa.UniqueConstraint('carrier', 'waybill', name='unmatched_waybill'),
    )
    op.create_index('unmatched_open', 'unmatched_waybills', ['last_seen'],
                    postgresql_where=sa.text('matched_at is null'))
    op.create_table(
        'parcel_reports',
        sa.Column('id', postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column('parcel_id', postgresql.UUID(as_uuid=True), sa.ForeignKey('parcels.id'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('photos', postgresql.JSONB(), nullable=False),
        sa.Column('task_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('reported_by', sa.String(64), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('outcome', sa.String(16)),
        sa.Column('resolved_by', sa.String(64)),
        sa.Column('resolution', sa.Text()),
        sa.CheckConstraint("kind in ('damage', 'shortage')", name='report_kind'),
    )
    op.create_index('ix_parcel_reports_parcel_id', 'parcel_reports', ['parcel_id'])
    op.drop_constraint('alert_trigger', 'diversion_alerts')
    op.create_check_constraint('alert_trigger', 'diversion_alerts',
                               f"trigger in ({TRIGGERS}, 'signed_outside_region')")


def downgrade() -> None:
    op.drop_constraint('alert_trigger', 'diversion_alerts')
    op.execute("delete from diversion_alerts where trigger = 'signed_outside_region'")
    op.create_check_constraint('alert_trigger', 'diversion_alerts', f"trigger in ({TRIGGERS})")
    for table in ('parcel_reports', 'unmatched_waybills', 'tracking_events'):
        op.drop_table(table)
    op.execute("drop trigger tracking_payloads_append_only on tracking_payloads")
    op.drop_table('tracking_payloads')
    op.execute("drop function tracking_payloads_append_only()")
    op.drop_table('parcels')
