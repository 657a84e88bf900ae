"""SLA reports of dealer requests: met and breached by tier, region, category and person, satisfaction
and the open backlog by age — each staff member over the dealers it sees."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dealerflow.models import Dealer, ServiceRequest
from dealerflow.service import requests as service, sla
from dealerflow.contracts import TaskResult

from .policy_support import unique


def test_the_report_counts_targets_met_and_breached_by_tier_region_category_and_person(
        client, sessions, make_dealer, make_user):
    region = unique("sr")
    am = make_user("account_manager")
    core = make_dealer(tier="core", region=region, account_manager=am.user.username).dealer
    normal = make_dealer(tier="normal", region=region).dealer
    rm = make_user("region_manager", region=region)
    outsider = make_user("region_manager", region=unique("sx"))
    now = datetime.now(timezone.utc)
    with sessions.begin() as s:
        quick, _ = service.file_request(s, dealer=s.get(Dealer, core.id), actor="d", category="product",
                                        subject="quick", text="t", attachments=[], now=now - timedelta(days=2))
        late, _ = service.file_request(s, dealer=s.get(Dealer, normal.id), actor="d", category="after_sales",
                                       subject="late", text="t", attachments=[], now=now - timedelta(days=40))
        open_, _ = service.file_request(s, dealer=s.get(Dealer, normal.id), actor="d", category="training",
                                        subject="open", text="t", attachments=[], now=now - timedelta(days=4))
        s.flush()
        service.close(s, quick.id, TaskResult(str(quick.task_id), "resolved", am.user.username), now - timedelta(days=2)
                      + timedelta(minutes=5))
        s.get(ServiceRequest, quick.id).satisfaction, s.get(ServiceRequest, quick.id).rated_at = 4, now
        sla.sweep(s, now + timedelta(days=30))  # `open` runs past both targets
    r = client.get("/api/v1/service/reports/sla", headers=rm.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    tiers = {row["key"]: row for row in report["by_tier"]}
    assert (tiers["core"]["resolution_met"], tiers["core"]["satisfaction"]) == (1, 4.0)
    assert (tiers["normal"]["requests"], tiers["normal"]["resolution_breached"]) == (1, 1)  # `late` is before the 30 days
    assert {row["key"] for row in report["by_category"]} == {"product", "training"}
    assert {row["key"] for row in report["by_person"]} == {am.user.username, "hq"}  # no manager: HQ answers
    assert report["satisfaction"] == 4.0
    backlog = {b["age"]: b for b in report["backlog"]}
    assert (backlog["3 to 7 days"]["open"], backlog["3 to 7 days"]["breached"]) == (1, 1)
    assert backlog["over 7 days"]["open"] == 1
    wide = client.get("/api/v1/service/reports/sla", params={"since": (now - timedelta(days=60)).date().isoformat()},
                      headers=rm.headers).json()
    assert wide["totals"]["requests"] == 3
    assert client.get("/api/v1/service/reports/sla", params={"since": "2026-10-09", "until": "2026-10-08"},
                      headers=rm.headers).status_code == 422
    assert client.get("/api/v1/service/reports/sla", headers=outsider.headers).json()["totals"]["requests"] == 0
    assert late and open_
