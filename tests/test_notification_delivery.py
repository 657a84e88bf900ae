"""The outbox's deliveries on the real database: who a notification reaches on which channel (their
addresses, preferences and quiet hours in Beijing time), attempts recorded, retries with backoff, a
data error dead at once, the dead letters and their resending, by the service, the API and the console."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select, text, update

from dealerflow.models import DeliveryAttempt, Notification, NotificationDelivery, User
from dealerflow.shared import notifications, recipients
from dealerflow.shared.channels import ChannelError
from dealerflow.shared.notifications import MAX_ATTEMPTS, Item, notify, send_pending

from .support import send_csrf

BEIJING = timezone(timedelta(hours=8))


class Fake:
    """A channel that records what it is given and answers with `outcome(item)` (None: sent)."""

    def __init__(self, name: str, personal: bool = False, outcome=lambda item: None):
        self.name, self.personal, self.outcome, self.items = name, personal, outcome, []

    def deliver(self, items: list[Item]):
        self.items += items
        return {i.delivery_id: self.outcome(i) for i in items}


def _fresh(session) -> None:
    """Only this test's notifications are planned: older unsent ones (other tests') are set aside."""
    session.execute(update(Notification).where(Notification.sent_at.is_(None)).values(sent_at=text("now()")))


def _user(session, actor) -> User:
    return session.get(User, actor.user.id)


def _deliveries(session, notification_id: int) -> list[NotificationDelivery]:
    return session.scalars(select(NotificationDelivery).where(NotificationDelivery.notification_id == notification_id)
                           .order_by(NotificationDelivery.channel, NotificationDelivery.address)).all()


def _last(session, kind: str, **where) -> int:
    q = select(Notification.id).where(Notification.kind == kind)
    for k, v in where.items():
        q = q.where(getattr(Notification, k) == v)
    return session.scalar(q.order_by(Notification.id.desc()).limit(1))


def test_a_notification_reaches_people_by_their_addresses_and_preferences(sessions, make_user, make_dealer):
    hq, hq_opted, dealer = make_user("hq"), make_user("hq"), make_dealer(contact_phone="13900000009")
    tag = uuid.uuid4().hex[:8]
    now = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)  # 11:00 in Beijing
    with sessions.begin() as s:
        recipients.save(s, _user(s, hq), addresses={"sms": "13800000001", "wecom_app": "hq1"}, preferences=[
            {"kind": "message", "channel": "wecom_app", "enabled": False}], quiet_start=None, quiet_end=None, actor="t")
        recipients.save(s, _user(s, hq_opted), addresses={"wecom_app": "hq2"}, preferences=[
            {"kind": "task", "channel": "wecom_app", "enabled": True}], quiet_start=None, quiet_end=None, actor="t")
        recipients.save(s, _user(s, dealer), addresses={"wecom_app": "d1"}, preferences=[], quiet_start=None,
                        quiet_end=None, actor="t")
        _fresh(s)
        notify(s, user_id=hq.user.id, kind="message", title=f"to hq {tag}")
        notify(s, role="hq", kind="task", title=f"to the role {tag}")
        notify(s, dealer_id=dealer.dealer.id, kind="announcement", title=f"to the dealer {tag}")
        robot, sms, app = Fake("robot-" + tag), Fake("sms", True), Fake("wecom_app", True)
        assert notifications.plan_deliveries(s, [robot, sms, app], batch=500, now=now) >= 3
        mine, role, theirs = (_last(s, "message", recipient_user_id=hq.user.id), _last(s, "task", recipient_role="hq"),
                              _last(s, "announcement", recipient_dealer_id=dealer.dealer.id))
        # The person's own: SMS to their number; WeCom turned off for messages.
        assert [(d.channel, d.address) for d in _deliveries(s, mine)] == [("robot-" + tag, ""), ("sms", "13800000001")]
        # The role's: only the one who opted into tasks on WeCom, and the group robot.
        assert [(d.channel, d.address) for d in _deliveries(s, role)] == [("robot-" + tag, ""), ("wecom_app", "hq2")]
        # The dealer's: its user on WeCom; no user has an SMS number, so the dealer's contact phone.
        assert [(d.channel, d.address, d.user_id) for d in _deliveries(s, theirs)] == [
            ("robot-" + tag, "", None), ("sms", "13900000009", None), ("wecom_app", "d1", dealer.user.id)]
        assert s.get(Notification, mine).sent_at == now
        s.rollback()


def test_quiet_hours_hold_what_is_not_urgent_until_they_end():
    start, end = "22:00", "07:30"
    late = datetime(2026, 12, 2, 23, 15, tzinfo=BEIJING)
    assert recipients.quiet_until(start, end, late) == datetime(2026, 12, 3, 7, 30, tzinfo=BEIJING)
    early = datetime(2026, 12, 3, 6, 0, tzinfo=BEIJING)
    assert recipients.quiet_until(start, end, early) == datetime(2026, 12, 3, 7, 30, tzinfo=BEIJING)
    assert recipients.quiet_until(start, end, datetime(2026, 12, 3, 7, 30, tzinfo=BEIJING)) is None
    assert recipients.quiet_until("12:00", "14:00", datetime(2026, 12, 3, 13, 0, tzinfo=BEIJING)) == \
        datetime(2026, 12, 3, 14, 0, tzinfo=BEIJING)
    assert recipients.quiet_until(None, None, late) is None


def test_quiet_hours_delay_a_person_but_not_an_escalation(sessions, make_user):
    am = make_user("account_manager")
    night = datetime(2026, 12, 2, 23, 0, tzinfo=BEIJING)
    with sessions.begin() as s:
        recipients.save(s, _user(s, am), addresses={"sms": "13800000002"}, preferences=[], quiet_start="22:00",
                        quiet_end="07:00", actor="t")
        _fresh(s)
        notify(s, user_id=am.user.id, kind="task", title="a task")
        notify(s, user_id=am.user.id, kind="escalation", title="an escalation")
        notifications.plan_deliveries(s, [Fake("sms", True)], batch=500, now=night)
        [task] = _deliveries(s, _last(s, "task", recipient_user_id=am.user.id))
        [escalation] = _deliveries(s, _last(s, "escalation", recipient_user_id=am.user.id))
        assert task.next_at == datetime(2026, 12, 3, 7, 0, tzinfo=BEIJING)
        assert escalation.next_at == night
        s.rollback()


def test_failures_are_retried_with_backoff_then_dead_and_a_data_error_at_once(sessions, make_user):
    hq = make_user("hq")
    tag = uuid.uuid4().hex[:8]
    t0 = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
    down = httpx.ConnectError("connection refused")
    refused = httpx.HTTPStatusError("400 Bad Request", request=httpx.Request("POST", "http://x"),
                                    response=httpx.Response(400))
    flaky = Fake("flaky-" + tag, outcome=lambda i: down if "keeps" in i.message.title else refused)
    with sessions.begin() as s:
        _fresh(s)
        notify(s, user_id=hq.user.id, kind="task", title=f"keeps failing {tag}")
        notify(s, user_id=hq.user.id, kind="message", title=f"refused {tag}")
        notifications.plan_deliveries(s, [flaky], batch=500, now=t0)
        [keeps] = _deliveries(s, _last(s, "task", recipient_user_id=hq.user.id))
        [bad] = _deliveries(s, _last(s, "message", recipient_user_id=hq.user.id))
        now, waits = t0, []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            notifications.deliver_due(s, [flaky], batch=500, now=now)
            s.refresh(keeps)
            assert keeps.attempts == attempt
            if attempt < MAX_ATTEMPTS:
                assert keeps.status == "pending" and keeps.next_at > now
                waits.append(keeps.next_at - now)
                assert notifications.deliver_due(s, [flaky], batch=500, now=keeps.next_at - timedelta(seconds=1)) == 0
                now = keeps.next_at
        assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                         timedelta(hours=3)]
        assert (keeps.status, keeps.dead_at, keeps.last_error) == ("dead", now, "connection refused")
        s.refresh(bad)
        assert (bad.status, bad.attempts) == ("dead", 1) and "400" in bad.last_error
        outcomes = s.scalars(select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == keeps.id)
                             .order_by(DeliveryAttempt.id)).all()
        assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["dead"]

        assert notifications.resend(s, [keeps.id, bad.id], now=now) == 2
        s.refresh(keeps)
        assert (keeps.status, keeps.attempts, keeps.next_at) == ("pending", 0, now)
        ok = Fake("flaky-" + tag)
        notifications.deliver_due(s, [ok], batch=500, now=now)
        s.refresh(keeps)
        s.refresh(bad)
        assert (keeps.status, keeps.sent_at, bad.status) == ("sent", now, "sent")
        assert s.scalar(select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == keeps.id)
                        .order_by(DeliveryAttempt.id.desc()).limit(1)) == "sent"
        s.rollback()


def test_a_bad_address_is_dead_at_once_and_nothing_is_lost_without_channels(sessions, make_user):
    from dealerflow.shared.channels import HttpSmsProvider, SmsChannel

    am = make_user("account_manager")
    with sessions.begin() as s:
        s.execute(update(User).where(User.id == am.user.id).values(phone="0571-1234"))  # a landline
        _fresh(s)
        notify(s, user_id=am.user.id, kind="task", title="to a landline")
        sms = SmsChannel(HttpSmsProvider("http://127.0.0.1:9/sms"))  # never reached: the address is refused first
        send_pending(s, [sms], now=datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc))
        [d] = _deliveries(s, _last(s, "task", recipient_user_id=am.user.id))
        assert (d.status, d.attempts) == ("dead", 1) and "0571-1234" in d.last_error
        notify(s, user_id=am.user.id, kind="task", title="inbox only")
        assert send_pending(s, []) >= 1
        n = _last(s, "task", recipient_user_id=am.user.id)
        assert s.get(Notification, n).sent_at is not None and _deliveries(s, n) == []
        s.rollback()


def test_people_edit_their_preferences_and_admins_see_the_dead_letters(client, sessions, make_user, make_dealer):
    dealer, admin, hq = make_dealer(), make_user("admin"), make_user("hq")
    r = client.put("/api/v1/notifications/preferences", json={"addresses": {"sms": "12345"}}, headers=dealer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "addresses.sms"
    r = client.put("/api/v1/notifications/preferences", json={"quiet_start": "22:00"}, headers=dealer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quiet_end"
    r = client.put("/api/v1/notifications/preferences", json={"preferences": [
        {"kind": "task", "channel": "fax", "enabled": True}]}, headers=dealer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "preferences[0].channel"
    assert client.get("/api/v1/notifications/preferences", headers=dealer.headers).json()["addresses"] == {
        "sms": None, "wecom_app": None}  # nothing written by the refusals
    good = {"addresses": {"sms": "13800138000", "wecom_app": "dealer.one"}, "quiet_start": "21:30",
            "quiet_end": "08:00", "preferences": [{"kind": "announcement", "channel": "sms", "enabled": False}]}
    r = client.put("/api/v1/notifications/preferences", json=good, headers=dealer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["addresses"] == good["addresses"] and r.json()["quiet_start"] == "21:30"
    name = dealer.user.username
    assert client.get(f"/api/v1/notifications/preferences/{name}", headers=hq.headers).status_code == 403
    assert client.get(f"/api/v1/notifications/preferences/{name}", headers=admin.headers).json()["preferences"] == [
        {"kind": "announcement", "channel": "sms", "enabled": False}]
    r = client.put(f"/api/v1/notifications/preferences/{name}", json={"addresses": {"sms": "13900139000"}},
                   headers=admin.headers)
    assert r.status_code == 200 and r.json()["addresses"]["sms"] == "13900139000" and r.json()["quiet_start"] is None
    assert client.get("/api/v1/notifications/preferences/nobody-at-all", headers=admin.headers).status_code == 404

    # A dead letter, listed with its attempts and resent through the API.
    with sessions.begin() as s:
        _fresh(s)
        notify(s, user_id=hq.user.id, kind="task", title="dead on arrival")
        channel = Fake("dead-" + uuid.uuid4().hex[:8], outcome=lambda i: ChannelError("errcode 93000: invalid webhook url",
                                                                                      permanent=True))
        send_pending(s, [channel])
        [d] = _deliveries(s, _last(s, "task", recipient_user_id=hq.user.id))
        dead_id = d.id
    assert client.get("/api/v1/notifications/dead-letters", headers=hq.headers).status_code == 403
    listed = client.get(f"/api/v1/notifications/dead-letters?channel={channel.name}", headers=admin.headers).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == dead_id
    assert listed["items"][0]["history"][0]["outcome"] == "dead" and "93000" in listed["items"][0]["history"][0]["error"]
    r = client.post("/api/v1/notifications/dead-letters/resend", json={"ids": [dead_id, 10**15]}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ids"
    r = client.post("/api/v1/notifications/dead-letters/resend", json={"ids": [dead_id]}, headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"resent": 1}
    with sessions() as s:
        assert s.get(NotificationDelivery, dead_id).status == "pending"
        s.execute(update(NotificationDelivery).where(NotificationDelivery.id == dead_id).values(status="sent"))
        s.commit()


def test_the_console_pages_edit_preferences_and_resend_dead_letters(client, sessions, make_user):
    from .test_console_imports import login
    admin, am = make_user("admin"), make_user("account_manager")
    login(client, am.user.username)
    page = client.get("/console/notifications/preferences")
    assert page.status_code == 200 and 'name="pref.task.sms"' in page.text and 'name="csrf_token"' in page.text
    token = client.cookies.get("dealerflow_csrf")
    bad = client.post("/console/notifications/preferences", data={"csrf_token": token, "sms": "123"})
    assert bad.status_code == 422 and "mobile number" in bad.text and 'value="123"' in bad.text
    ok = client.post("/console/notifications/preferences", data={
        "csrf_token": token, "sms": "13800138001", "wecom_app": "am1", "quiet_start": "22:00", "quiet_end": "07:00",
        "pref.task.sms": "off", "pref.message.wecom_app": "on"}, follow_redirects=False)
    assert ok.status_code == 303
    with sessions() as s:
        p = recipients.profile(s, s.get(User, am.user.id))
    assert p["addresses"] == {"sms": "13800138001", "wecom_app": "am1"} and (p["quiet_start"], p["quiet_end"]) == (
        "22:00", "07:00")
    assert sorted((x["kind"], x["channel"], x["enabled"]) for x in p["preferences"]) == [
        ("message", "wecom_app", True), ("task", "sms", False)]
    assert client.get(f"/console/notifications/preferences/{admin.user.username}").status_code == 403
    assert client.get("/console/notifications/dead-letters").status_code == 403

    with sessions.begin() as s:
        _fresh(s)
        notify(s, user_id=am.user.id, kind="message", title="never arrives")
        send_pending(s, [Fake("gone-" + uuid.uuid4().hex[:8],
                              outcome=lambda i: ChannelError("errcode 310000: sign not match", permanent=True))])
        [d] = _deliveries(s, _last(s, "message", recipient_user_id=am.user.id))
    client.cookies.clear()
    login(client, admin.user.username)
    dead = client.get("/console/notifications/dead-letters")
    assert dead.status_code == 200 and "never arrives" in dead.text and "310000" in dead.text
    assert f'href="/console/notifications/preferences/{am.user.username}"' in client.get(
        f"/console/users/{am.user.username}").text
    other = client.get(f"/console/notifications/preferences/{am.user.username}")
    assert other.status_code == 200 and 'value="am1"' in other.text
    r = client.post("/console/notifications/dead-letters/resend",
                    data={"csrf_token": client.cookies.get("dealerflow_csrf"), "id": [str(d.id)]}, follow_redirects=False)
    assert r.status_code == 303
    with sessions() as s:
        assert s.get(NotificationDelivery, d.id).status == "pending"
        s.execute(update(NotificationDelivery).where(NotificationDelivery.id == d.id).values(status="sent"))
        s.commit()


def test_the_dispatch_workflow_delivers_through_a_real_worker_and_is_scheduled(sessions, settings, make_user):
    """End to end: a delivery planned in the notification's transaction, sent by the dispatch workflow
    on a worker whose SMS channel points at a local gateway; the schedule runs it every minute."""
    import asyncio

    from dealerflow.contracts.notifications import NOTIFY_SCHEDULE, NotificationDispatchInput
    from dealerflow.core.temporal import connect
    from workflows import NotificationDispatchWorkflow

    from .conftest import WorkerThread
    from .test_channels import Robot

    gateway = Robot()
    am = make_user("account_manager")
    phone = "139" + str(uuid.uuid4().int)[:8]
    tag = uuid.uuid4().hex[:8]
    try:
        with sessions.begin() as s:
            recipients.save(s, _user(s, am), addresses={"sms": phone}, preferences=[], quiet_start=None,
                            quiet_end=None, actor="t")
            _fresh(s)
            notify(s, user_id=am.user.id, kind="escalation", title=f"超时升级 {tag}")
            notifications.plan_deliveries(s, [Fake("sms", True)], batch=500, now=s.scalar(select(text("now()"))))
            [d] = _deliveries(s, _last(s, "escalation", recipient_user_id=am.user.id))
        with_sms = settings.with_(notify_sms_url=f"{gateway.url}/sms")
        worker = WorkerThread(with_sms, sessions).start()
        try:
            async def run():
                temporal = await connect(with_sms)
                every = (await temporal.get_schedule_handle(NOTIFY_SCHEDULE).describe()).schedule.spec.intervals
                result = await temporal.execute_workflow(
                    NotificationDispatchWorkflow.run, NotificationDispatchInput(),
                    id=f"dispatch-{uuid.uuid4().hex[:8]}", task_queue=with_sms.task_queue)
                return every, result
            every, result = asyncio.run(run())
        finally:
            worker.stop()
        assert [i.every for i in every] == [timedelta(minutes=1)] and result.handled >= 1
        assert {"phone": phone, "text": f"【dealerflow】超时升级 {tag}", "sign": "dealerflow"} in [
            r["body"] for r in gateway.requests]
        with sessions() as s:
            sent = s.get(NotificationDelivery, d.id)
            assert (sent.status, sent.attempts) == ("sent", 1)
            assert s.scalars(select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == d.id)).all() == ["sent"]
    finally:
        gateway.close()
