"""Overdue days and receivables come from the dealer's ledger and payment terms (FIFO allocation of
payments to invoices), and the order's credit decision reads them live."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from dealerflow.credit import ledger_figures
from dealerflow.models import Dealer
from dealerflow.shared import accounts

TODAY = accounts.business_date(datetime.now(timezone.utc))


def book(sessions, dealer_id: int, *rows) -> None:
    """rows: (kind, amount, value_date, source id)"""
    with sessions.begin() as s:
        accounts.book(s, [accounts.entry(dealer_id=dealer_id, kind=k, amount=Decimal(a), value_date=d,
                                         source_type="test", source_id=f"{dealer_id}:{src}") for k, a, d, src in rows])


def owed(sessions, dealer_id: int, on: date = TODAY, terms: int = 30) -> ledger_figures.Exposure:
    with sessions() as s:
        return ledger_figures.live(s, dealer_id=dealer_id, terms_days=terms, on=on)


def order(client, actor, product, quantity):
    return client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": quantity}]},
                       headers=actor.headers)


def test_an_unpaid_invoice_past_its_terms_is_overdue_and_a_paid_one_is_not(make_dealer, sessions):
    d = make_dealer().dealer
    book(sessions, d.id, ("delivery", "500.00", TODAY - timedelta(days=40), "inv1"))
    assert owed(sessions, d.id) == ledger_figures.Exposure(Decimal("500.00"), 10, TODAY - timedelta(days=40))
    assert owed(sessions, d.id, terms=40).overdue_days == 0  # due today: not yet overdue
    assert owed(sessions, d.id, terms=39).overdue_days == 1
    book(sessions, d.id, ("payment", "499.99", TODAY - timedelta(days=1), "pay1"))
    assert owed(sessions, d.id).overdue_days == 10  # one cent open keeps the invoice unpaid
    book(sessions, d.id, ("payment", "0.01", TODAY, "pay2"))
    assert owed(sessions, d.id) == ledger_figures.Exposure(Decimal("0.00"), 0, None)


def test_payments_pay_the_oldest_invoices_first(make_dealer, sessions):
    d = make_dealer().dealer
    book(sessions, d.id, ("delivery", "300.00", TODAY - timedelta(days=100), "a"),
         ("delivery", "200.00", TODAY - timedelta(days=50), "b"),
         ("payment", "350.00", TODAY - timedelta(days=5), "p"))
    got = owed(sessions, d.id)
    # 350 pays invoice a (300) and 50 of b: b, due 20 days ago, is the oldest unpaid
    assert (got.receivables, got.overdue_days) == (Decimal("150.00"), 20)
    book(sessions, d.id, ("return", "150.00", TODAY, "r"))  # a return credits the account like a payment
    assert owed(sessions, d.id).overdue_days == 0


def test_the_payment_terms_of_the_dealer_count(make_dealer, sessions):
    d = make_dealer(payment_terms_days=60).dealer
    book(sessions, d.id, ("delivery", "100.00", TODAY - timedelta(days=70), "a"))
    with sessions() as s:
        dealer = s.get(Dealer, d.id)
        assert ledger_figures.live(s, dealer_id=d.id, terms_days=dealer.payment_terms_days, on=TODAY).overdue_days == 10


def test_the_credit_decision_reads_overdue_days_live_from_the_ledger(client, make_dealer, product, sessions):
    actor = make_dealer(rating="A", credit_limit=Decimal("100000.00"))
    assert actor.dealer.overdue_days == 0  # the stored column says nothing is overdue
    invoiced = accounts.business_date(datetime.now(timezone.utc)) - timedelta(days=30 + 91)
    book(sessions, actor.dealer.id, ("delivery", "1000.00", invoiced, "old"))
    body = order(client, actor, product, 1).json()
    # The order reads the business day it is placed on (Beijing time): a day later past midnight.
    decided_on = accounts.business_date(datetime.fromisoformat(body["created_at"]))
    assert body["status"] == "rejected", body
    assert body["decision"]["rule"] == "reject-long-overdue"
    assert body["decision"]["facts"]["dealer.overdue_days"] == (decided_on - invoiced).days - 30
    assert body["decision"]["facts"]["dealer.outstanding"] == "1000.00"
    book(sessions, actor.dealer.id, ("payment", "1000.00", TODAY, "paid"))
    body = order(client, actor, product, 1).json()
    assert body["status"] == "approved", body
    assert body["decision"]["facts"]["dealer.overdue_days"] == 0
    assert body["decision"]["facts"]["dealer.outstanding"] == "0.00"  # the first order was rejected: it holds nothing


def test_receivables_on_the_ledger_use_up_the_headroom(client, make_dealer, product, sessions):
    actor = make_dealer(rating="A", credit_limit=Decimal("1000.00"))
    book(sessions, actor.dealer.id, ("delivery", "950.00", TODAY, "recent"))
    body = order(client, actor, product, 1).json()  # 100.00 over the 50.00 left
    assert body["status"] == "pending_review", body
    assert body["decision"]["facts"]["dealer.outstanding"] == "950.00"


def test_one_dealer_and_every_dealer_give_the_same_figures(make_dealer, sessions):
    d = make_dealer(credit_limit=Decimal("1200.00")).dealer
    on = TODAY.replace(day=1)
    book(sessions, d.id, ("delivery", "600.00", on - timedelta(days=200), "a"),
         ("payment", "600.00", on - timedelta(days=150), "pa"),  # 20 days late
         ("delivery", "600.00", on - timedelta(days=60), "b"),
         ("payment", "200.00", on - timedelta(days=10), "pb"))
    with sessions() as s:
        one = ledger_figures.one_dealer(s, d.id, on)
        every = ledger_figures.all_dealers(s, on)[d.id]
        assert one == every
        f = ledger_figures.shape(one, on=on, credit_limit=Decimal("1200.00"))
    assert f["receivables"] == Decimal("400.00")
    assert f["overdue_days"] == 30 and f["overdue_amount"] == Decimal("400.00")
    assert f["overdue_ratio"] == 1
    assert f["utilisation"] == Decimal("400.00") / Decimal("1200.00")
    assert f["months_of_history"] >= 6
    # 600 paid 20 days late, 400 open 30 days past due: (600×20 + 400×30) / 1000
    assert f["days_late"] == Decimal(24)
    assert f["dso"] == Decimal("400.00") * 90 / Decimal("600.00")
