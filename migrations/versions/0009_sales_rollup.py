"""reports: the daily sales rollup (day × region × product) kept by triggers on deliveries and returns

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# One upsert used by every trigger: `rows` yields (day, region, product_id, delivered_qty,
# delivered_amount, returned_qty, returned_amount) deltas; they are summed per key and applied in
# key order, so two transactions touching the same keys lock them in the same order.
_UPSERT = """
    insert into sales_daily as s (day, region, product_id, delivered_qty, delivered_amount, returned_qty,
                                  returned_amount)
    select day, region, product_id, sum(dq), sum(da), sum(rq), sum(ra)
    from ({rows}) r (day, region, product_id, dq, da, rq, ra)
    group by day, region, product_id order by day, region, product_id
    on conflict (day, region, product_id) do update set
        delivered_qty = s.delivered_qty + excluded.delivered_qty,
        delivered_amount = s.delivered_amount + excluded.delivered_amount,
        returned_qty = s.returned_qty + excluded.returned_qty,
        returned_amount = s.returned_amount + excluded.returned_amount"""

# China's business day of a timestamp.
_DAY = "((({col}) at time zone 'UTC') + interval '8 hours')::date"

_LINES_ADDED = _UPSERT.format(rows=f"""
    select {_DAY.format(col='o.delivered_at')}, d.region, l.product_id, l.quantity::bigint, l.amount,
           0::bigint, 0::numeric
    from new_lines l join orders o on o.id = l.order_id join dealers d on d.id = o.dealer_id
    where o.delivered_at is not null""")

_DELIVERY_MOVED = _UPSERT.format(rows=f"""
    select {_DAY.format(col='x.at')}, d.region, l.product_id, x.sign * l.quantity::bigint, x.sign * l.amount,
           0::bigint, 0::numeric
    from (select n.id, n.dealer_id, o.delivered_at as at, -1 as sign
          from old_orders o join new_orders n on n.id = o.id
          where o.delivered_at is not null and o.delivered_at is distinct from n.delivered_at
          union all
          select n.id, n.dealer_id, n.delivered_at, 1
          from old_orders o join new_orders n on n.id = o.id
          where n.delivered_at is not null and o.delivered_at is distinct from n.delivered_at) x
    join order_lines l on l.order_id = x.id join dealers d on d.id = x.dealer_id""")

_RETURNS = _UPSERT.format(rows=f"""
    select {_DAY.format(col='r.returned_at')}, d.region, r.product_id, 0::bigint, 0::numeric,
           {{sign}} * r.quantity::bigint, {{sign}} * r.amount
    from {{table}} r join dealers d on d.id = r.dealer_id""")


def _function(name: str, body: str) -> str:
    return (f"create function {name}() returns trigger language plpgsql as $$\n"
            f"begin\n{body};\nreturn null;\nend $$")


def upgrade() -> None:
    op.create_table('sales_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('delivered_qty', sa.BigInteger(), nullable=False),
    sa.Column('delivered_amount', sa.Numeric(), nullable=False),
    sa.Column('returned_qty', sa.BigInteger(), nullable=False),
    sa.Column('returned_amount', sa.Numeric(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'region', 'product_id', name='sales_daily_pkey'),
    )
    op.execute(_function("sales_daily_lines_added", _LINES_ADDED))
    op.execute(_function("sales_daily_delivery_moved", _DELIVERY_MOVED))
    op.execute(_function("sales_daily_returns_added", _RETURNS.format(sign="1", table="new_returns")))
    op.execute(_function("sales_daily_returns_removed", _RETURNS.format(sign="-1", table="old_returns")))
    op.execute("create trigger sales_daily_lines after insert on order_lines referencing new table as new_lines "
               "for each statement execute function sales_daily_lines_added()")
    op.execute("create trigger sales_daily_delivery after update on orders "
               "referencing old table as old_orders new table as new_orders "
               "for each statement execute function sales_daily_delivery_moved()")
    op.execute("create trigger sales_daily_returns after insert on order_returns referencing new table as new_returns "
               "for each statement execute function sales_daily_returns_added()")
    op.execute("create trigger sales_daily_returns_removed after delete on order_returns "
               "referencing old table as old_returns "
               "for each statement execute function sales_daily_returns_removed()")
    # What is already there.
    op.execute(_UPSERT.format(rows=f"""
        select {_DAY.format(col='o.delivered_at')}, d.region, l.product_id, l.quantity::bigint, l.amount,
               0::bigint, 0::numeric
        from order_lines l join orders o on o.id = l.order_id join dealers d on d.id = o.dealer_id
        where o.delivered_at is not null
        union all
        select {_DAY.format(col='r.returned_at')}, d.region, r.product_id, 0, 0, r.quantity, r.amount
        from order_returns r join dealers d on d.id = r.dealer_id"""))


def downgrade() -> None:
    op.execute("drop trigger sales_daily_returns_removed on order_returns")
    op.execute("drop trigger sales_daily_returns on order_returns")
    op.execute("drop trigger sales_daily_delivery on orders")
    op.execute("drop trigger sales_daily_lines on order_lines")
    for name in ("sales_daily_returns_removed", "sales_daily_returns_added", "sales_daily_delivery_moved",
                 "sales_daily_lines_added"):
        op.execute(f"drop function {name}()")
    op.drop_table('sales_daily')
