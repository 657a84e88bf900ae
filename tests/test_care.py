"""Dealer care on the real database: birthdays and cooperation anniversaries greeted once a year with
the service file's offers credited to the points ledger exactly once, the account manager told the
day before, contact tasks by the tier's cadence, a recorded contact closing the task, the overdue list."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from dealerflow.care import daily
from dealerflow.models import CareEvent, ContactTask, Notification, PointsEntry

from .policy_support import unique

DAY = date(2031, 6, 10)  # a day no other test greets on


def _points(sessions, dealer_id) -> list[int]:
    with sessions() as s:
        return list(s.scalars(select(PointsEntry.points).where(PointsEntry.dealer_id == dealer_id,
                                                               PointsEntry.source_type == "care")))


def test_birthdays_and_anniversaries_are_greeted_once_with_their_offers(sessions, make_dealer, make_user):
    am = make_user("account_manager")
    core = make_dealer(tier="core", contact_birthday=date(1980, 6, 10), contact_name="王经理",
                       cooperation_since=date(2025, 6, 10), account_manager=am.user.username).dealer
    veteran = make_dealer(tier="key", cooperation_since=date(2026, 6, 10) - timedelta(days=5 * 365 + 1)).dealer
    tomorrow = make_dealer(contact_birthday=date(1990, 6, 11), account_manager=am.user.username).dealer
    new = make_dealer(cooperation_since=DAY).dealer  # cooperation starts today: no anniversary
    with sessions.begin() as s:
        first = daily.run_day(s, DAY)
    with sessions.begin() as s:
        again = daily.run_day(s, DAY)
    # core: birthday 50 + core birthday 150, and 6 years of cooperation: 100 + 400 (5 years or more)
    assert sorted(_points(sessions, core.id)) == [200, 500]
    assert _points(sessions, veteran.id) == [500]  # 10 years: 100 + 400
    assert _points(sessions, tomorrow.id) == [] and _points(sessions, new.id) == []
    assert first.greeted >= 3 and again.greeted == 0
    with sessions() as s:
        told = s.scalars(select(Notification.title).where(Notification.recipient_user_id == am.user.id)).all()
        greeted = s.scalar(select(func.count()).select_from(CareEvent).where(CareEvent.dealer_id == core.id))
        dealer_note = s.scalars(select(Notification.body).where(Notification.recipient_dealer_id == core.id,
                                                                Notification.kind == "care")).all()
    assert greeted == 2 and "200 points have been added to your account." in dealer_note
    assert any(t.startswith("Tomorrow: the birthday of") for t in told)


def test_a_leap_day_birthday_is_greeted_on_28_february(sessions, make_dealer):
    dealer = make_dealer(contact_birthday=date(1988, 2, 29)).dealer
    with sessions.begin() as s:
        daily.run_day(s, date(2031, 2, 28))
    assert _points(sessions, dealer.id) == [50]


def test_contact_tasks_follow_the_cadence_and_a_contact_closes_them(client, sessions, make_dealer, make_user):
    region = unique("cr")
    am = make_user("account_manager")
    other_am = make_user("account_manager")
    core = make_dealer(tier="core", region=region, account_manager=am.user.username,
                       cooperation_since=date(2026, 1, 1)).dealer
    normal = make_dealer(tier="normal", region=region, account_manager=am.user.username,
                         cooperation_since=DAY - timedelta(days=10)).dealer
    with sessions.begin() as s:
        daily.run_day(s, DAY)
        daily.run_day(s, DAY)  # one open task per dealer
    with sessions() as s:
        tasks = {t.dealer_id: t for t in s.scalars(select(ContactTask).where(
            ContactTask.dealer_id.in_([core.id, normal.id])))}
    assert list(tasks) == [core.id]  # normal: 30 days not yet passed
    due = client.get("/api/v1/care/contacts/due", headers=am.headers).json()
    assert [d["dealer_code"] for d in due if d["dealer_code"] in (core.code, normal.code)] == [core.code]
    assert due[0]["overdue"] is True
    assert client.get("/api/v1/care/contacts/due", headers=other_am.headers).json() == []

    bad = client.post("/api/v1/care/contacts", json={"dealer": core.code, "channel": "fax", "note": "x"},
                      headers=am.headers)
    assert bad.status_code == 422
    empty = client.post("/api/v1/care/contacts", json={"dealer": core.code, "channel": "phone", "note": " "},
                        headers=am.headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "note"
    assert client.post("/api/v1/care/contacts", json={"dealer": core.code, "channel": "phone", "note": "ok"},
                       headers=other_am.headers).status_code == 404
    ok = client.post("/api/v1/care/contacts", json={"dealer": core.code, "channel": "visit",
                                                    "note": "Visited the showroom"}, headers=am.headers)
    assert ok.status_code == 201, ok.text
    with sessions() as s:
        assert s.get(ContactTask, tasks[core.id].id).status == "done"
    assert all(d["dealer_code"] != core.code for d in
               client.get("/api/v1/care/contacts/due", headers=am.headers).json())
