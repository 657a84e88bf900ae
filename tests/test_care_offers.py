"""Care offers beyond points and cash for points, on the real database: a coupon-like credit booked once
on the dealer's account with its reason, a rebate program's anniversary extra granted only for the
years the program pays it, and a cash item converting points at the program's per-point value, booked
once when fulfilled and never when refused."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from dealerflow.care import daily
from dealerflow.care import points as care_points
from dealerflow.contracts import TaskResult
from dealerflow.models import AccountEntry, CareOfferGiven, PointsEntry, Redemption
from dealerflow.shared import rulebook
from policies_dsl import RuleFileError, load_rule_file

from .support import wait_until

DAY = date(2031, 7, 14)  # a day no other test greets on
SERVICE = (Path(__file__).resolve().parents[1] / "rules" / "service.yaml").read_text(encoding="utf-8")


def _entries(sessions, dealer_id, source_type):
    with sessions() as s:
        return [(e.amount, e.note) for e in s.scalars(select(AccountEntry).where(
            AccountEntry.dealer_id == dealer_id, AccountEntry.source_type == source_type))]


def _offers(sessions, dealer_id):
    with sessions() as s:
        return {o.kind: o for o in s.scalars(select(CareOfferGiven).where(CareOfferGiven.dealer_id == dealer_id))}


def test_a_birthday_credit_is_booked_once_with_its_reason(sessions, make_dealer):
    core = make_dealer(tier="core", contact_birthday=date(1979, 7, 14)).dealer
    normal = make_dealer(tier="normal", contact_birthday=date(1979, 7, 14)).dealer
    with sessions.begin() as s:
        first = daily.run_day(s, DAY)
    with sessions.begin() as s:
        again = daily.run_day(s, DAY)
    assert _entries(sessions, core.id, "care_offer") == [(Decimal("-88.00"), "Birthday care credit ¥88.00")]
    assert _entries(sessions, normal.id, "care_offer") == []  # the credit is for core dealers
    assert first.credited >= Decimal("88.00") and again.offers == 0 and again.credited == 0
    offer = _offers(sessions, core.id)["credit"]
    assert offer.amount == Decimal("88.00") and offer.explanation["rule_file"] == "service"


def test_the_anniversary_rebate_extra_is_granted_only_for_the_programs_years(sessions, make_dealer):
    third = make_dealer(cooperation_since=date(2028, 7, 14)).dealer  # 3 years: quarterly_volume pays 3%
    second = make_dealer(cooperation_since=date(2029, 7, 14)).dealer
    with sessions.begin() as s:
        daily.run_day(s, DAY)
    granted, not_granted = _offers(sessions, third.id)["rebate_extra"], _offers(sessions, second.id)["rebate_extra"]
    assert granted.applies and granted.rate == Decimal("0.03") and granted.program == "quarterly_volume"
    assert "3-year anniversary" in granted.explanation["reason"] and granted.explanation["rate"] == "3.00%"
    assert not not_granted.applies and not_granted.rate is None
    assert not_granted.explanation["reason"] == ("rebate program 'quarterly_volume' pays its anniversary extra for"
                                                 " 3 years of cooperation, not 2")
    assert _entries(sessions, third.id, "care_offer") == []  # the settlement pays the extra, not the greeting


def _errors(text: str) -> list[str]:
    try:
        load_rule_file("rules/service.yaml", text)
    except RuleFileError as e:
        return [str(x) for x in e.errors]
    return []


def test_offer_fields_are_checked_with_precise_errors():
    assert _errors(SERVICE) == []
    assert _errors(SERVICE.replace('{occasion: birthday, tiers: [core], credit: "88.00"}',
                                   '{occasion: birthday, rebate_extra: quarterly_volume}')) == [
        "rules/service.yaml:45 service.care[4].rebate_extra: a rebate's anniversary extra is an anniversary offer,"
        " not a birthday one"]
    assert _errors(SERVICE.replace('credit: "88.00"', 'credit: "0"')) == [
        "rules/service.yaml:45 service.care[4].credit: a credit is a positive amount in ¥ with at most two decimals,"
        " like 88.00, not '0'"]
    assert _errors(SERVICE.replace('{occasion: birthday, tiers: [core], credit: "88.00"}', '{occasion: birthday}')) == [
        "rules/service.yaml:45 service.care[4]: an offer gives points, a credit or a rebate extra: none is given"]
    assert _errors(SERVICE.replace('{occasion: birthday, points: 50}', '{occasion: birthday, min_years: 2, points: 50}')) == [
        "rules/service.yaml:41 service.care[0].min_years: years count anniversaries, not a birthday"]
    too_fine = _errors(SERVICE.replace('credit: "88.00"', 'credit: "88.001"'))
    assert len(too_fine) == 1 and too_fine[0].startswith("rules/service.yaml:45 service.care[4].credit:"), too_fine
    assert _errors(SERVICE.replace("code: training_seat", "code: display_kit")) == [
        "rules/service.yaml:36 service.catalogue[1].code: duplicate item 'display_kit' (also on line 35)"]


def _task(client, staff, redemption_id):
    def look():
        return next((t for t in client.get("/api/v1/tasks", headers=staff.headers).json()
                     if t.get("subject_id") == redemption_id), None)
    return wait_until(look)


def test_a_cash_item_books_the_rebate_rate_once_when_fulfilled_and_nothing_when_refused(
        client, sessions, make_dealer, make_user):
    finance = make_user("finance")
    dealer = make_dealer()
    with sessions.begin() as s:
        s.add(PointsEntry(dealer_id=dealer.dealer.id, points=2500, reason="test", source_type="test",
                          source_id=f"cash-{dealer.dealer.code}"))
    catalogue = {i["code"]: i for i in client.get("/api/v1/points/catalogue", headers=dealer.headers).json()}
    assert catalogue["cash_100"]["cash"] == "quarterly_volume"
    paid = client.post("/api/v1/points/redemptions", json={"item": "cash_100"}, headers=dealer.headers)
    refused = client.post("/api/v1/points/redemptions", json={"item": "cash_100"}, headers=dealer.headers)
    assert paid.status_code == 201 and refused.status_code == 201, paid.text
    for r, outcome in ((paid, "fulfilled"), (refused, "refused")):
        task = _task(client, finance, r.json()["id"])
        assert task["payload"]["cash"] == "100.00" and task["payload"]["per_point"] == "0.10"
        assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": outcome},
                           headers=finance.headers).status_code == 200

    def settled():
        with sessions() as s:
            return sorted(s.scalars(select(Redemption.status).where(Redemption.dealer_id == dealer.dealer.id))) \
                == ["fulfilled", "refused"]
    wait_until(settled)
    booked = _entries(sessions, dealer.dealer.id, "redemption_cash")
    assert len(booked) == 1 and booked[0][0] == Decimal("-100.00")  # one entry: the refused one booked nothing
    assert booked[0][1].startswith("Cash rebate for 1000 points at ¥0.10 (quarterly_volume v")
    with sessions() as s:
        points = sum(s.scalars(select(PointsEntry.points).where(PointsEntry.dealer_id == dealer.dealer.id)))
    assert points == 1500  # 2500 - 1000 paid; the refused 1000 came back
    with sessions.begin() as s:  # a second answer changes nothing
        r = s.scalars(select(Redemption).where(Redemption.dealer_id == dealer.dealer.id,
                                               Redemption.status == "fulfilled")).one()
        care_points.settle(s, r.id, TaskResult(task_id=str(r.task_id), outcome="fulfilled", actor="x"), datetime.now(timezone.utc))
    assert len(_entries(sessions, dealer.dealer.id, "redemption_cash")) == 1


def test_a_cash_item_needs_a_program_with_a_per_point_value(client, sessions, make_dealer):
    dealer = make_dealer()
    with sessions.begin() as s:
        s.add(PointsEntry(dealer_id=dealer.dealer.id, points=1000, reason="test", source_type="test",
                          source_id=f"cash-none-{dealer.dealer.code}"))
        rulebook.deploy(s, filename="rules/service.yaml", actor="tests",
                        text=SERVICE.replace("cash: quarterly_volume", "cash: no_such_program"))
    r = client.post("/api/v1/points/redemptions", json={"item": "cash_100"}, headers=dealer.headers)
    assert r.status_code == 503 and "no_such_program" in r.json()["detail"]
    with sessions() as s:
        assert sum(s.scalars(select(PointsEntry.points).where(PointsEntry.dealer_id == dealer.dealer.id))) == 1000
