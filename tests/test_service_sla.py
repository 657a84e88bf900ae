"""SLA clocks of dealer requests on the working calendar, against the real database: due times across
the National Day week and its make-up Saturday, pausing while HQ waits for the dealer, a tier change
mid-request, and the sweep reminding before the breach and escalating at it — once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dealerflow.models import Dealer, HumanTask, Notification, ServiceClock, ServiceEvent, ServiceRequest
from dealerflow.service import requests as service, sla

from .service_support import at


def _file(sessions, dealer, now, category="product"):
    with sessions.begin() as s:
        d = s.get(Dealer, dealer.id)
        r, task = service.file_request(s, dealer=d, actor="dealer", category=category, subject="Hinges",
                                       text="Which grease?", attachments=[], now=now)
        return r.id, r.task_id


def _clock(sessions, request_id, name="resolution") -> ServiceClock:
    with sessions() as s:
        c = s.get(ServiceClock, (request_id, name))
        s.expunge(c)
        return c


def test_due_times_skip_the_holiday_and_count_the_make_up_saturday(sessions, make_dealer):
    dealer = make_dealer(tier="core").dealer
    rid, task_id = _file(sessions, dealer, at("2026-09-30 17:00"))
    assert _clock(sessions, rid, "response").due_at == at("2026-10-08 12:00")
    resolution = _clock(sessions, rid)
    assert (resolution.target_s, resolution.due_at) == (24 * 3600, at("2026-10-10 14:00"))
    assert resolution.remind_at == at("2026-10-10 12:00")
    with sessions() as s:  # the task shows the working-calendar due time
        assert s.get(HumanTask, task_id).due_at == at("2026-10-10 14:00")


def test_waiting_for_the_dealer_stops_the_clock_and_its_answer_starts_it(sessions, make_dealer, make_user):
    dealer = make_dealer(tier="core").dealer
    staff = make_user("hq").user
    rid, _ = _file(sessions, dealer, at("2026-09-30 17:00"))
    with sessions.begin() as s:  # 1 h on 30 Sep + 1 h on 8 Oct used
        service.set_status(s, s.get(ServiceRequest, rid), user=staff, status="waiting_dealer", now=at("2026-10-08 10:00"))
    c = _clock(sessions, rid)
    assert (c.used_s, c.running_since, c.due_at) == (2 * 3600, None, None)
    with sessions.begin() as s:
        r = s.get(ServiceRequest, rid)
        dealer_user = s.scalars(select(type(staff)).where(type(staff).dealer_id == dealer.id)).one()
        service.post_message(s, r, user=dealer_user, text="Photos attached", attachments=[], now=at("2026-10-09 10:00"))
        assert r.status == "in_progress"
    # 22 h left from Fri 9 Oct 10:00: 8 h that day, 9 h on the make-up Saturday, 5 h on Monday 12 Oct
    assert _clock(sessions, rid).due_at == at("2026-10-12 14:00")
    with sessions() as s:
        actions = [e.action for e in s.scalars(select(ServiceEvent).where(ServiceEvent.request_id == rid).order_by(ServiceEvent.id))]
    assert actions == ["filed", "status", "status"]


def test_a_tier_change_mid_request_applies_the_new_target_from_that_moment(sessions, make_dealer):
    dealer = make_dealer(tier="core").dealer
    rid, _ = _file(sessions, dealer, at("2026-09-30 17:00"))
    with sessions.begin() as s:
        s.get(Dealer, dealer.id).tier = "key"
        s.flush()
        assert sla.retarget_changed_tiers(s, at("2026-10-08 12:00"), dealer_ids=[dealer.id]) == 1
    c = _clock(sessions, rid)
    # 4 working hours used count against key's 48 h: 44 h left from Thu 8 Oct 12:00
    assert (c.tier, c.target_s, c.used_s) == ("key", 48 * 3600, 4 * 3600)
    assert c.due_at == at("2026-10-14 11:00")
    with sessions() as s:
        assert s.get(ServiceRequest, rid).tier == "key"
        # and back to core a day later: 4 + 15 = 19 h used of 24
        s.get(Dealer, dealer.id).tier = "core"
        s.commit()
    with sessions.begin() as s:
        sla.retarget_changed_tiers(s, at("2026-10-09 18:00"), dealer_ids=[dealer.id])
    c = _clock(sessions, rid)
    assert (c.target_s, c.used_s, c.due_at) == (24 * 3600, 19 * 3600, at("2026-10-10 14:00"))


def test_a_tier_change_past_the_new_target_is_due_at_once(sessions, make_dealer):
    dealer = make_dealer(tier="normal").dealer
    rid, _ = _file(sessions, dealer, at("2026-11-16 09:00"))
    with sessions.begin() as s:
        s.get(Dealer, dealer.id).tier = "core"
        s.flush()
        sla.retarget_changed_tiers(s, at("2026-11-19 12:00"), dealer_ids=[dealer.id])  # 30 h used of 24
    assert _clock(sessions, rid).due_at == at("2026-11-19 12:00")


def test_the_sweep_reminds_before_the_breach_and_escalates_at_it_once(sessions, make_dealer):
    dealer = make_dealer(tier="core").dealer
    rid, task_id = _file(sessions, dealer, at("2026-09-30 17:00"))
    with sessions.begin() as s:  # before the reminder: nothing but the first-response breach on 8 Oct 12:00
        done = sla.sweep(s, at("2026-10-08 11:59"))
    assert _clock(sessions, rid).reminded_at is None
    with sessions.begin() as s:
        sla.sweep(s, at("2026-10-10 12:00"))
    assert _clock(sessions, rid).reminded_at == at("2026-10-10 12:00")
    assert _clock(sessions, rid).breached_at is None
    assert _clock(sessions, rid, "response").breached_at == at("2026-10-10 12:00")
    with sessions.begin() as s:
        sla.sweep(s, at("2026-10-10 13:59"))
    assert _clock(sessions, rid).breached_at is None
    with sessions.begin() as s:
        sla.sweep(s, at("2026-10-10 14:00"))
        sla.sweep(s, at("2026-10-10 15:00"))  # again: nothing twice
    assert _clock(sessions, rid).breached_at == at("2026-10-10 14:00")
    with sessions() as s:
        task = s.get(HumanTask, task_id)
        assert task.escalated_to_role == "region_manager"
        r = s.get(ServiceRequest, rid)
        told = s.scalars(select(Notification.dedup_key).where(Notification.link == f"/console/service/{rid}")).all()
        actions = [e.action for e in s.scalars(select(ServiceEvent).where(ServiceEvent.request_id == rid))]
    assert sorted(k for k in told if k) == sorted([
        f"service-remind:{rid}:resolution:0", f"service-breach:{rid}:response:0", f"service-breach:{rid}:resolution:0",
        f"service-escalated:{rid}:response:0", f"service-escalated:{rid}:resolution:0"])
    assert actions.count("breached") == 2 and actions.count("reminded") == 1
    assert r.status == "open" and done.breached == 0


def test_a_stopped_clock_records_whether_it_met_its_target(sessions, make_dealer, make_user):
    dealer = make_dealer(tier="core").dealer
    staff = make_user("hq").user
    rid, _ = _file(sessions, dealer, at("2026-11-16 09:00"))
    with sessions.begin() as s:
        service.post_message(s, s.get(ServiceRequest, rid), user=staff, text="On it", attachments=[],
                             now=at("2026-11-16 13:00"))
    c = _clock(sessions, rid, "response")
    assert (c.used_s, c.met, c.stopped_at) == (4 * 3600, True, at("2026-11-16 13:00"))
    assert _clock(sessions, rid).stopped_at is None
    rid2, _ = _file(sessions, dealer, at("2026-11-16 09:00"))
    with sessions.begin() as s:
        service.post_message(s, s.get(ServiceRequest, rid2), user=staff, text="Late", attachments=[],
                             now=at("2026-11-16 13:00") + timedelta(seconds=1))
    assert _clock(sessions, rid2, "response").met is False
