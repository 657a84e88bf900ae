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
from dealerflow.models import (AccountEntry, Dealer, Order, OrderEvent, OrderLine, OrderReturn, Payment, Product, Stock,
                               StockAllocation, User, Warehouse)
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


def test_master_data_is_filled_in(seeded):
    """Contacts with phones and birthdays (some today and tomorrow), cooperation starts, payment terms, a
    few suspended dealers and one ended, the regions named with their account managers."""
    from dealerflow.models import Region, RegionManager

    sessions, _ = seeded
    with sessions() as s:
        assert s.scalar(select(func.count()).where(Dealer.contact_name.is_(None))) == 0
        assert s.scalar(select(func.count()).where(~Dealer.contact_phone.op("~")(r"^1[3-9][0-9]{9}$"))) == 0
        birthdays = s.scalars(select(Dealer.contact_birthday)).all()
        assert sum((b.month, b.day) == (TODAY.month, TODAY.day) for b in birthdays) >= 2
        tomorrow = TODAY + timedelta(days=1)
        assert sum((b.month, b.day) == (tomorrow.month, tomorrow.day) for b in birthdays) >= 2
        assert s.scalar(select(func.min(Dealer.cooperation_since))) < TODAY - timedelta(days=365 * 5)
        assert set(s.scalars(select(Dealer.payment_terms_days).distinct())) >= {30, 60}
        statuses = dict(s.execute(select(Dealer.status, func.count()).group_by(Dealer.status)).all())
        assert statuses.get("suspended", 0) >= 3 and statuses.get("ended") == 1
        assert s.scalar(select(Dealer.status).where(Dealer.code == "D0001")) == "active"
        names = dict(s.execute(select(Region.code, Region.name)).all())
        assert names["east"] == "华东" and len(names) == 6
        east = s.scalars(select(User.username).join(RegionManager, RegionManager.user_id == User.id)
                         .where(RegionManager.region_code == "east")).all()
        assert "am_east_1" in east
def test_stock_in_hqs_warehouses(seeded):
    """Every SKU is stocked in the three warehouses; approved orders hold what they need, and the
    orders of the short SKUs wait for stock."""
    sessions, _ = seeded
    with sessions() as s:
        products = s.scalar(select(func.count()).select_from(Product))
        assert s.scalar(select(func.count()).select_from(Warehouse)) == 3
        assert s.scalar(select(func.count()).select_from(Stock)) == 3 * products
        assert s.scalar(select(func.count()).select_from(Stock).where(Stock.reserved > Stock.on_hand)) == 0
        held = dict(s.execute(select(StockAllocation.product_id, func.sum(StockAllocation.quantity))
                              .where(StockAllocation.status == "reserved").group_by(StockAllocation.product_id)).all())
        reserved = dict(s.execute(select(Stock.product_id, func.sum(Stock.reserved)).group_by(Stock.product_id)
                                  .having(func.sum(Stock.reserved) > 0)).all())
        assert held == reserved and held
        waiting = s.scalar(select(func.count()).select_from(StockAllocation)
                           .where(StockAllocation.status == "backordered"))
        assert waiting > 0
        assert s.scalar(select(func.count()).select_from(StockAllocation).join(Order).where(
            Order.status != "approved")) == 0
def test_demo_parcels_put_d0001s_latest_orders_on_their_way(seeded):
    """The logistics demo (`dealerflow dev`, first run): tracked parcels of d0001 at three stages, one of
    another dealer signed outside its city, one waybill with no parcel (rolled back: other tests read the seed)."""
    from dealerflow.logistics import tracking
    from dealerflow.logistics.providers import Push
    from dealerflow.models import Parcel, UnmatchedWaybill
    from launcher.demo import demo_parcels

    sessions, _ = seeded
    with sessions() as s:
        demo = demo_parcels(s)
        ingested = tracking.ingest(s, Push("fixture", tracking.poll_body(demo.tracks), tuple(demo.tracks)),
                                   source="poll")
        states = dict(s.execute(select(Parcel.waybill, Parcel.state)).all())
        d0001 = [p for p, d in demo.recorded if d.code == "D0001"]
        assert sorted(states[p.waybill] for p in d0001) == ["in_transit", "out_for_delivery", "signed"]
        assert len(demo.recorded) == 4 and ingested.new > 12
        outsider = next(p for p, d in demo.recorded if d.code != "D0001")
        assert s.scalar(select(Parcel.signed_city).where(Parcel.id == outsider.id)) == "苏州"
        assert s.scalar(select(UnmatchedWaybill.waybill)) == demo.unmatched
        s.rollback()
def test_late_payers_on_the_ledger_give_varied_credit_ratings(seeded):
    """The demo's ledger has late payers (by their rating), so scoring credit from it rates them apart."""
    from dealerflow.core.config import ROOT
    from dealerflow.credit import ledger_figures
    from dealerflow.shared.dealer_facts import COLUMNS, facts_of
    from policies_dsl import assess_credit, compile_rule_file, load_rule_file

    sessions, _ = seeded
    rule_file = load_rule_file(ROOT / "rules" / "credit_score.yaml")
    compiled = compile_rule_file(rule_file, 1)
    on = TODAY.replace(day=1)
    with sessions() as s:
        rows = ledger_figures.all_dealers(s, on)
        dealers = s.execute(select(*COLUMNS, Dealer.rating, Dealer.credit_limit)).all()
    figures = {d.id: ledger_figures.shape(rows.get(d.id), on=on, credit_limit=d.credit_limit) for d in dealers}
    assert any(f["overdue_days"] > 90 for f in figures.values())
    assert sum(f["overdue_days"] == 0 for f in figures.values()) > len(dealers) / 2
    rated = {assess_credit(compiled, rule_file.spec, {**facts_of(d), "dealer.rating": d.rating,
                                                      "dealer.credit_limit": d.credit_limit}, figures[d.id]).rating
             for d in dealers}
    assert len(rated) >= 3, rated
def test_the_demo_rule_change_waits_with_its_impact_report(seeded):
    """First run: the last 90 days' credit decisions and a proposed credit change with its replay."""
    from pathlib import Path

    from dealerflow.governance import proposals, reports
    from dealerflow.shared import rulebook
    from launcher.demo import DEMO_PROPOSER, demo_credit_proposal, demo_decisions

    sessions, _ = seeded
    rules = Path(__file__).parent.parent / "rules"
    now = datetime.combine(TODAY, time(12), timezone.utc)
    with sessions.begin() as s:
        rulebook.deploy_directory(s, rules, actor="tests")
        stored = demo_decisions(s, now=now)
        assert stored > 0 and demo_decisions(s, now=now) == 0  # once
        proposal = proposals.propose(s, filename="rules/credit_approval.yaml",
                                     text=demo_credit_proposal((rules / "credit_approval.yaml").read_text()),
                                     actor=DEMO_PROPOSER, now=now)
        report = reports.get(s, proposal.report_id)
        assert proposal.status == "open" and proposal.approver_role == "admin"
        assert report.totals["replayed"] == stored and report.totals["changed"] > 0
        assert any(b["group"] == "region" for b in report.breakdown) and report.samples
        s.rollback()
def with_service_rules(s) -> None:
    from dealerflow.core.config import ROOT
    from dealerflow.shared import rulebook
    if rulebook.active_version(s, "service") is None:
        rulebook.deploy(s, filename="rules/service.yaml", text=(ROOT / "rules" / "service.yaml").read_text(),
                        actor="tests")


def test_dealer_requests_in_every_state(seeded):
    from dealerflow.models import ServiceClock, ServiceRequest
    from dealerflow.service import sla
    from launcher.demo import demo_requests

    sessions, _ = seeded
    now = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)  # Monday, 12:00 in Beijing
    with sessions.begin() as s:
        with_service_rules(s)
        opened = demo_requests(s, now)
        swept = sla.sweep(s, now)
    with sessions() as s:
        states = dict(s.execute(select(ServiceRequest.status, func.count()).group_by(ServiceRequest.status)).all())
        rated = s.scalars(select(ServiceRequest.satisfaction).where(ServiceRequest.satisfaction.is_not(None))).all()
        tiers = set(s.scalars(select(ServiceRequest.tier)))
        breached = s.scalar(select(func.count()).select_from(ServiceClock).where(ServiceClock.breached_at.is_not(None)))
    assert {"open", "in_progress", "waiting_dealer", "closed"} <= set(states)
    assert len(opened) == states["open"] + states.get("in_progress", 0) + states["waiting_dealer"]
    assert len(rated) >= 4 and min(rated) < max(rated) and {"core", "key", "normal"} <= tiers
    assert breached >= 2 and swept.breached >= 2


def test_birthdays_and_anniversaries_today_and_tomorrow(seeded):
    from dealerflow.care import daily
    from launcher.demo import demo_care

    sessions, _ = seeded
    today = date(2026, 11, 23)
    with sessions() as s:  # rolled back: other tests read the seed's birthdays
        with_service_rules(s)
        demo_care(s, today)
        done = daily.run_day(s, today)
        s.rollback()
    assert done.greeted >= 4 and done.points > 0 and done.told_eve >= 1 and done.contact_tasks > 0


def test_announcements_conversations_and_redemptions(seeded):
    from dealerflow.models import Announcement, ConversationMessage, Redemption
    from launcher.demo import demo_messaging

    sessions, _ = seeded
    with sessions.begin() as s:
        with_service_rules(s)
        redemptions = demo_messaging(s, datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc))
    with sessions() as s:
        announced = s.scalars(select(Announcement.recipients).order_by(Announcement.id)).all()
        messages = s.scalar(select(func.count()).select_from(ConversationMessage))
        redeemed = s.scalar(select(func.count()).select_from(Redemption))
    assert len(announced) == 2 and 0 < announced[0] < announced[1] == DEALERS
    assert messages == 3 and redeemed == len(redemptions) == 2
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
