"""The demo dataset on a real PostgreSQL: shape, exact money, the dealer hierarchy, silent dealers,
fulfilment and the dealer's account, determinism, and refusal to seed a database that already has dealers.

Self-contained for now (its own embedded PostgreSQL per database); the bodies only need a
sessionmaker over a migrated, empty database, so they move onto the shared fixtures unchanged."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from dealerflow.core.db import make_engine, make_sessionmaker
from launcher.demo import DEMO_LOGINS, DemoDataError, seed_demo
from dealerflow.core.migrate import upgrade
from dealerflow.models import AccountEntry, Dealer, Order, OrderEvent, OrderLine, OrderReturn, Payment, Product, User
from dealerflow.core.runtime import EmbeddedPostgres
from dealerflow.core.security import verify_password

DEALERS, SEED, TODAY = 120, 7, date(2026, 11, 22)


@contextmanager
def fresh_database(pgdata):
    """A migrated, empty database on its own embedded PostgreSQL; yields a sessionmaker."""
    pg = EmbeddedPostgres(pgdata)
    engine = None
    try:
        url = pg.start()
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        yield make_sessionmaker(engine)
    finally:
        if engine is not None:
            engine.dispose()
        pg.stop()


def seed(sessions, **kw):
    with sessions.begin() as session:
        return seed_demo(session, dealers=DEALERS, seed=SEED, today=TODAY, **kw)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("demo") / "pg") as sessions:
        yield sessions, seed(sessions)


def snapshot(sessions) -> tuple:
    with sessions() as s:
        dealers = s.execute(select(Dealer.code, Dealer.name, Dealer.credit_limit, Dealer.level, Dealer.region)
                            .order_by(Dealer.code)).all()
        total = s.scalar(select(func.sum(Order.amount)))
        ids = s.scalars(select(Order.id).order_by(Order.id)).all()
    return dealers, total, ids


def test_counts_and_shape(seeded):
    sessions, summary = seeded
    with sessions() as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert (summary.dealers, count(Dealer)) == (DEALERS, DEALERS)
        assert summary.products == count(Product) >= 50
        managers = s.scalar(select(func.count(Dealer.account_manager.distinct())))
        assert summary.users == count(User) == DEALERS + 4 + managers
        assert s.scalar(select(func.count()).select_from(User).where(User.role == "account_manager")) == managers
        assert s.scalar(select(Dealer.account_manager).where(Dealer.code == "D0001")) == "am_east_1"
        tags = set(s.scalars(select(func.unnest(Dealer.tags)).distinct()))
        assert {"window_specialist", "rural_market", "retail_terminal"} <= tags
        assert set(s.scalars(select(Dealer.channel).distinct())) >= {"retail", "wholesale"}
        assert summary.orders == count(Order) > DEALERS * 10
        assert summary.lines == count(OrderLine) > summary.orders
        assert summary.events == count(OrderEvent) >= 2 * summary.orders
        assert summary.regions == s.scalar(select(func.count(Dealer.region.distinct()))) == 6
        assert set(s.scalars(select(Product.category).distinct())) == {"door", "window", "cabinet"}
        assert set(s.scalars(select(Dealer.tier).distinct())) == {"core", "key", "normal"}
        assert set(s.scalars(select(Dealer.rating).distinct())) == {"A", "B", "C", "D"}
        assert set(s.scalars(select(Order.status).distinct())) == {
            "approved", "shipped", "delivered", "completed", "rejected", "cancelled"}
        assert s.scalar(select(func.count()).where(Order.status == "completed")) > 0.8 * summary.orders
        # Every order has an event per status, ending in its own status; workflow ids match the order id.
        assert s.scalar(text("""
            select count(*) from orders o
            where o.workflow_id <> 'order-' || o.id::text
               or (select e.status from order_events e where e.order_id = o.id order by e.at desc, e.id desc
                   limit 1) is distinct from o.status
               or not exists (select 1 from order_events e where e.order_id = o.id and e.status = 'submitted'
                              and e.at = o.created_at)""")) == 0
        assert s.scalar(select(func.max(Order.created_at))) < datetime.combine(TODAY, time(0), timezone.utc)
        assert s.scalar(select(func.min(Order.created_at))) >= datetime.combine(
            TODAY - timedelta(days=366), time(0), timezone.utc)
        # One dealer user per dealer, named after its code; the staff logins work.
        assert s.scalar(text("""select count(*) from users u join dealers d on d.id = u.dealer_id
                                where u.role = 'dealer' and u.username = lower(d.code)""")) == DEALERS
        hashes = dict(s.execute(select(User.username, User.password_hash)).all())
    for username, password, role, _ in DEMO_LOGINS:
        assert verify_password(password, hashes[username]), username
        assert len(password) >= 8


def test_dealer_hierarchy(seeded):
    sessions, _ = seeded
    with sessions() as s:
        levels = dict(s.execute(select(Dealer.level, func.count()).group_by(Dealer.level)).all())
        assert levels[1] > levels[2] > 0
        assert s.scalar(select(func.count()).where(Dealer.level == 1, Dealer.parent_id.is_not(None))) == 0
        assert s.scalar(text("""
            select count(*) from dealers c left join dealers p on p.id = c.parent_id
            where c.level = 2 and (p.id is null or p.level <> 1 or p.region <> c.region)""")) == 0
        assert s.scalar(select(func.count()).where(Dealer.account_manager.is_(None))) == 0
        d2 = s.scalars(select(Dealer).where(Dealer.code == "D0002")).one()
        assert (d2.level, s.get(Dealer, d2.parent_id).code) == (2, "D0001")


def test_money_is_exact(seeded):
    sessions, _ = seeded
    with sessions() as s:
        mismatches = s.scalar(text("""
            select count(*) from orders o
            left join (select order_id, sum(amount) as total, count(*) as n,
                              count(*) filter (where amount <> unit_price * quantity) as bad
                       from order_lines group by order_id) l on l.order_id = o.id
            where l.total is distinct from o.amount or l.bad <> 0 or l.n not between 1 and 5"""))
        assert mismatches == 0
        for limit, outstanding in s.execute(select(Dealer.credit_limit, Dealer.outstanding)):
            assert isinstance(limit, Decimal) and limit % 100 == 0 and 50_000 <= limit <= 2_000_000
            assert outstanding == outstanding.quantize(Decimal("0.01"))
        for category, low, high in s.execute(select(Product.category, func.min(Product.unit_price),
                                                    func.max(Product.unit_price)).group_by(Product.category)):
            assert {"door": (800, 6000), "window": (500, 4000), "cabinet": (2000, 15000)}[category][0] <= low
            assert high <= {"door": 6000, "window": 4000, "cabinet": 15000}[category]


def test_silent_dealers_have_no_recent_orders(seeded):
    sessions, summary = seeded
    cutoff = datetime.combine(TODAY - timedelta(days=183), time(0), timezone.utc)
    with sessions() as s:
        recent = set(s.scalars(select(Dealer.code).join(Order, Order.dealer_id == Dealer.id)
                               .where(Order.created_at >= cutoff).distinct()))
        ever = set(s.scalars(select(Dealer.code).join(Order, Order.dealer_id == Dealer.id).distinct()))
        codes = set(s.scalars(select(Dealer.code)))
    silent = set(summary.silent_dealers)
    assert len(silent) == round(0.10 * DEALERS)
    assert silent == codes - recent  # silent means exactly: no order in the last six months
    assert silent <= ever  # ...but they did order before


def test_same_seed_same_data(seeded, tmp_path):
    sessions, _ = seeded
    with fresh_database(tmp_path / "pg") as other:
        seed(other)
        assert snapshot(other) == snapshot(sessions)


def test_refuses_a_database_with_dealers(seeded):
    sessions, _ = seeded
    with sessions() as s:
        with pytest.raises(DemoDataError, match="empty database"):
            seed_demo(s, dealers=5, seed=SEED, today=TODAY)
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Dealer)) == DEALERS


def test_fulfilment_and_the_account(seeded):
    sessions, summary = seeded
    with sessions() as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert summary.returns == count(OrderReturn) > 0 and summary.payments == count(Payment) > count(Order) / 2
        assert s.scalar(select(func.count()).where(Payment.reference.not_like("PAY-%"))) == 0
        assert s.scalar(select(func.count()).where(OrderReturn.reference.not_like("RT-%"))) == 0
        # Shipped 1-5 days after approval, delivered 1-7 days after shipping, each with its event.
        assert s.scalar(text("""
            select count(*) from orders o
            left join order_events a on a.order_id = o.id and a.status = 'approved'
            left join order_events sh on sh.order_id = o.id and sh.status = 'shipped'
            left join order_events de on de.order_id = o.id and de.status = 'delivered'
            where o.status in ('shipped', 'delivered', 'completed') and (
                  sh.at is distinct from o.shipped_at or o.shipped_at - a.at not between interval '1 day' and
                  interval '5 days' or (o.status <> 'shipped') <> (o.delivered_at is not null)
               or (o.delivered_at is not null and (de.at is distinct from o.delivered_at
                   or o.delivered_at - o.shipped_at not between interval '1 day' and interval '7 days')))
               or (o.status not in ('shipped', 'delivered', 'completed') and o.shipped_at is not null)""")) == 0
        # Deliveries booked to the ledger equal delivered order amounts, dealer by dealer.
        delivered = dict(s.execute(select(Order.dealer_id, func.sum(Order.amount))
                                   .where(Order.delivered_at.is_not(None)).group_by(Order.dealer_id)).all())
        booked = dict(s.execute(select(AccountEntry.dealer_id, func.sum(AccountEntry.amount))
                                .where(AccountEntry.kind == "delivery").group_by(AccountEntry.dealer_id)).all())
        assert booked == delivered and len(booked) > DEALERS / 2
        # Every completed order is paid in full (less its returns), and only completed orders are paid.
        assert s.scalar(text("""
            select count(*) from orders o
            left join (select order_id, sum(amount) as paid from payments group by order_id) p on p.order_id = o.id
            left join (select order_id, sum(amount) as back from order_returns group by order_id) r
                   on r.order_id = o.id
            where (o.status = 'completed') <> (p.paid is not null)
               or p.paid <> o.amount - coalesce(r.back, 0)""")) == 0
        # Returns are part of one delivered line, within 30 days of delivery.
        assert s.scalar(text("""
            select count(*) from order_returns r join orders o on o.id = r.order_id
            where r.quantity >= (select sum(l.quantity) from order_lines l
                                 where l.order_id = r.order_id and l.sku = r.sku)
               or r.amount <> r.quantity * (select min(l.unit_price) from order_lines l
                                            where l.order_id = r.order_id and l.sku = r.sku)
               or r.returned_at not between o.delivered_at and o.delivered_at + interval '30 days'
               or r.dealer_id <> o.dealer_id""")) == 0
        # Every return and payment is on the ledger once, with its sign and business day.
        for model, kind, at in ((OrderReturn, "return", OrderReturn.returned_at),
                                (Payment, "payment", Payment.paid_at)):
            assert s.scalar(select(func.count()).select_from(model).join(AccountEntry, (
                AccountEntry.source_type == kind) & (AccountEntry.source_id == model.reference)).where(
                AccountEntry.amount == -model.amount, AccountEntry.kind == kind,
                AccountEntry.value_date == func.date(func.timezone("Asia/Shanghai", at)))) == count(model)
        assert count(AccountEntry) == (s.scalar(select(func.count()).where(Order.delivered_at.is_not(None)))
                                       + count(OrderReturn) + count(Payment))
        assert s.scalar(select(func.count(Payment.order_id.distinct()))) < count(Payment)  # some paid in two


def test_inventory_demo_has_overstocked_near_stock_out_and_healthy_dealers(tmp_path):
    from dealerflow.inventory import health
    from dealerflow.models import InventoryHealth, SellThrough, StockReport
    from launcher.demo import demo_inventory

    with fresh_database(tmp_path / "pg") as sessions:
        seed(sessions)
        with sessions.begin() as s:
            pairs = demo_inventory(s, today=TODAY)["pairs"]
        with sessions.begin() as s:
            health.compute(s, day=TODAY - timedelta(days=1), region=None, average_over_days=90, slow_over=Decimal(60))
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(SellThrough)) == pairs * 52
            assert s.scalar(select(func.count()).select_from(StockReport)) == pairs * 12
            rows = s.scalars(select(InventoryHealth)).all()
    assert len(rows) >= pairs
    over = [h for h in rows if h.turnover_days is None and h.on_hand or (h.turnover_days or 0) > 90]
    short = [h for h in rows if h.cover_days is not None and h.cover_days < 7]
    assert 0.03 * len(rows) < len(over) < 0.25 * len(rows)
    assert 0.03 * len(rows) < len(short) < 0.25 * len(rows)
    assert len(rows) - len(over) - len(short) > 0.6 * len(rows)
