"""Four eyes, effective dates and shadow mode on the real servers: a proposal approved by a second
person activates exactly its content; the proposer cannot approve; a stale approval is refused; a
rejection records why; the emergency path only where the kind allows it; a future version takes
effect at its date; a shadow is evaluated on every credit decision and never acted on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from dealerflow.models import Decision, RuleProposal
from dealerflow.shared import rulebook

from .support import wait_until

CREDIT = (Path(__file__).parent.parent / "rules" / "credit_approval.yaml").read_text(encoding="utf-8")
STRICTER = CREDIT.replace('dealer.rating in ["A", "B"]', 'dealer.rating in ["A"]').replace(
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: B",
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: A")
# Another change: more than 60 days overdue is rejected.
SHORTER = CREDIT.replace("dealer.overdue_days > 90", "dealer.overdue_days > 60").replace(
    "name: exactly 90 days overdue is not rejected\n    given: {dealer.rating: A, dealer.overdue_days: 90",
    "name: exactly 90 days overdue is not rejected\n    given: {dealer.rating: A, dealer.overdue_days: 60")
YAML = {"Content-Type": "application/yaml"}
FILE = {"filename": "rules/credit_approval.yaml"}


@pytest.fixture
def gov(settings, worker):
    """The app with four eyes on rule files, as it runs in production."""
    with TestClient(create_app(settings.with_(rules_four_eyes=True)), headers={"Accept-Language": "en"}) as c:
        yield c


def order(client, actor, product, quantity=1):
    r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": quantity}]},
                    headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


def propose(client, user, text, **params):
    return client.post("/api/v1/rules/proposals", content=text.encode(), params={**FILE, **params},
                       headers={**user.headers, **YAML})


def decide(client, user, proposal, outcome, comment=""):
    return client.post(f"/api/v1/rules/proposals/{proposal['id']}/decide", json={"outcome": outcome, "comment": comment},
                       headers=user.headers)


def task_open(client, user, proposal):
    wait_until(lambda: client.get(f"/api/v1/tasks/{proposal['task_id']}", headers=user.headers).status_code == 200)


def test_a_second_admin_approves_exactly_the_proposed_file(gov, make_dealer, make_user, product, sessions):
    author, second = make_user("admin"), make_user("admin")
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    before = order(gov, dealer, product)
    assert before["status"] == "approved"
    # A person's deploy is refused: it goes through a proposal.
    direct = gov.post("/api/v1/rules/deploy", content=STRICTER.encode(), params=FILE, headers={**author.headers, **YAML})
    assert direct.status_code == 403 and "second person" in direct.json()["detail"]

    r = propose(gov, author, STRICTER, comment="B ratings to review")
    assert r.status_code == 201, r.text
    proposal = r.json()
    assert proposal["status"] == "open" and proposal["base_version"] == before["decision"]["version"]
    assert all(t["passed"] for t in proposal["tests"]) and len(proposal["tests"]) >= 5
    assert proposal["report_id"] is not None and any('["A"]' in line for line in proposal["diff"] if line.startswith("+"))
    report = gov.get(f"/api/v1/rules/replays/{proposal['report_id']}", headers=second.headers).json()
    assert report["totals"]["changed"] >= 1 and report["candidate_sha256"] == proposal["sha256"]
    assert propose(gov, author, STRICTER).status_code == 409  # already waiting

    task_open(gov, second, proposal)
    task = gov.get(f"/api/v1/tasks/{proposal['task_id']}", headers=second.headers).json()
    assert task["payload"]["report_hash"] == report["content_hash"] and task["payload"]["sha256"] == proposal["sha256"]
    assert order(gov, dealer, product)["status"] == "approved"  # nothing changed while it waits

    mine = decide(gov, author, proposal, "approve")
    assert mine.status_code == 403 and "second person" in mine.json()["detail"]
    done = decide(gov, second, proposal, "approve", "checked the replay")
    assert done.status_code == 200, done.text
    approved = done.json()
    assert approved["status"] == "approved" and approved["version"] > proposal["base_version"]
    after = order(gov, dealer, product)
    assert after["status"] == "pending_review" and after["decision"]["version"] == approved["version"]
    with sessions() as s:
        active = rulebook.active_version(s, "credit_approval")
        assert (active.sha256, active.proposal_id.hex) == (proposal["sha256"], proposal["id"].replace("-", ""))
    assert decide(gov, second, proposal, "approve").status_code == 409  # answered
    trail = [a["action"] for a in gov.get("/api/v1/rules/audit", params={"ruleset": "credit_approval"},
                                           headers=second.headers).json()]
    assert trail[:2] == ["approved", "proposed"]
    wait_until(lambda: gov.get(f"/api/v1/tasks/{proposal['task_id']}", headers=second.headers).json()["status"] == "completed")


def test_stale_approval_rejection_and_the_emergency_path(gov, make_user, sessions):
    author, second, hq = make_user("admin"), make_user("admin"), make_user("hq")
    stale = propose(gov, author, STRICTER).json()
    rejected = propose(gov, author, SHORTER).json()
    assert decide(gov, hq, rejected, "approve").status_code == 403  # HQ approves policy files only
    task_open(gov, second, rejected)
    assert decide(gov, second, rejected, "reject").status_code == 422  # say why
    r = decide(gov, second, rejected, "reject", "60 days is too strict for the dealers in the north")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["decision_comment"] == "60 days is too strict for the dealers in the north"

    # Another version goes live (the emergency path credit approval allows admins): the first proposal is stale.
    emergency = gov.post("/api/v1/rules/emergency-deploy", content=SHORTER.encode(),
                         params={**FILE, "reason": "fraud ring found"}, headers={**second.headers, **YAML})
    assert emergency.status_code == 201, emergency.text
    task_open(gov, second, stale)
    r = decide(gov, second, stale, "approve")
    assert r.status_code == 409 and "stale" in r.json()["detail"]
    with sessions() as s:
        assert rulebook.active_version(s, "credit_approval").sha256 == emergency.json()["sha256"]
        assert s.get(RuleProposal, __import__("uuid").UUID(stale["id"])).status == "open"
    trail = gov.get("/api/v1/rules/audit", params={"ruleset": "credit_approval"}, headers=second.headers).json()
    assert trail[0]["action"] == "emergency" and trail[0]["note"] == "fraud ring found"
    assert trail[1]["action"] == "rejected"
    # A stale proposal is still answered: rejected, it no longer waits (nor blocks the same file later).
    r = decide(gov, second, stale, "reject", "superseded by the emergency version")
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    # A kind without an emergency path.
    tiering = (Path(__file__).parent.parent / "rules" / "tiering.yaml").read_text(encoding="utf-8")
    r = gov.post("/api/v1/rules/emergency-deploy", content=tiering.encode(),
                 params={"filename": "rules/tiering.yaml", "reason": "now"}, headers={**second.headers, **YAML})
    assert r.status_code == 403 and "no emergency path" in r.json()["detail"]
    # Bad input: an invalid file, nothing proposed.
    bad = propose(gov, author, CREDIT.replace("dealer.overdue_days > 90", "dealer.overdue_dayz > 90"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["text"].startswith("rules/credit_approval.yaml:")


def test_a_future_version_takes_effect_at_its_date(client, make_dealer, make_user, product, sessions):
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    with sessions() as s:
        now = s.scalar(select(__import__("sqlalchemy").func.now()))
    starts = now + timedelta(seconds=8)  # time enough, on a loaded machine, for what is checked before it
    with sessions.begin() as s:
        current = rulebook.active_version(s, "credit_approval").version
        future = rulebook.deploy(s, filename="rules/credit_approval.yaml", text=STRICTER, actor="tests",
                                 effective_from=starts)
    assert order(client, dealer, product)["decision"]["version"] == current  # scheduled, not yet in force
    admin = make_user("admin")
    states = {v["version"]: v["state"] for v in client.get("/api/v1/rules/versions/credit_approval",
                                                            headers=admin.headers).json()}
    assert (states[future.version], states[current]) == ("scheduled", "current")
    with sessions() as s:  # as of a business time, the version in force then
        assert rulebook.active(s, "credit_approval", at=starts - timedelta(microseconds=1)).version == current
        assert rulebook.active(s, "credit_approval", at=starts).version == future.version
    wait_until(lambda: datetime.now(timezone.utc) > starts + timedelta(milliseconds=50), timeout=20)
    later = order(client, dealer, product)
    assert (later["status"], later["decision"]["version"]) == ("pending_review", future.version)
    states = {v["version"]: v["state"] for v in client.get("/api/v1/rules/versions/credit_approval",
                                                            headers=admin.headers).json()}
    assert (states[future.version], states[current]) == ("current", "past")


def test_a_shadow_is_evaluated_on_every_credit_decision_and_never_acted_on(client, make_dealer, make_user, product,
                                                                         sessions):
    admin = make_user("admin")
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    r = client.post("/api/v1/rules/shadow", content=STRICTER.encode(), params=FILE, headers={**admin.headers, **YAML})
    assert r.status_code == 201, r.text
    shadow = r.json()["version"]
    placed = order(client, dealer, product, 3)
    assert placed["status"] == "approved" and placed["decision"]["version"] != shadow  # the live outcome acts
    with sessions() as s:
        stored = s.scalars(select(Decision).where(Decision.subject_id == placed["id"])).one()
        assert stored.shadow[str(shadow)]["outcome"]["decision"] == "review"
    board = client.get("/api/v1/rules/shadow", headers=admin.headers).json()
    mine = next(x for x in board["shadows"] if x["version"] == shadow)
    assert mine["running"] and mine["disagreed"] >= 1 and mine["evaluated"] >= 1
    assert {"from": "approve", "to": "review"}.items() <= mine["moves"][0].items()
    row = next(d for d in board["disagreements"] if d["subject_id"] == placed["id"])
    assert (row["live"], row["shadow"], row["amount"]) == ("approve", "review", "300.00")

    assert client.post(f"/api/v1/rules/shadow/credit_approval/{shadow}/end", headers=admin.headers).status_code == 204
    quiet = order(client, dealer, product)
    with sessions() as s:
        assert s.scalars(select(Decision).where(Decision.subject_id == quiet["id"])).one().shadow is None
    kept = next(x for x in client.get("/api/v1/rules/shadow", headers=admin.headers).json()["shadows"]
                if x["version"] == shadow)
    assert not kept["running"] and kept["disagreed"] == mine["disagreed"]  # ending keeps the record
    assert client.post(f"/api/v1/rules/shadow/credit_approval/{shadow}/end", headers=admin.headers).status_code == 404


def test_a_running_workflow_stays_pinned_to_the_version_it_started_with(client, make_dealer, make_user, sessions):
    from dealerflow.models import TieringRun, TierScore

    from .policy_support import inbox_task, unique
    from .test_tiering import APPROVAL, deploy, next_month, run_at, start, tiering_yaml

    admin, hq, region = make_user("admin"), make_user("hq"), unique("pin")
    falling = make_dealer(region=region, tier="core")
    deploy(client, admin, tiering_yaml(extra=APPROVAL))
    with sessions() as s:
        started_with = rulebook.active_version(s, "tiering").version
    month, _ = next_month(sessions)
    start(client, hq, month)
    run_at(client, hq, month, "awaiting_approval")
    # A new version goes live while the run waits: downgrades no longer wait, core needs 90.
    deploy(client, admin, tiering_yaml().replace("min_score: 80", "min_score: 90"))
    with sessions() as s:
        assert rulebook.active_version(s, "tiering").version == started_with + 1
    task = inbox_task(client, hq, lambda t: t["kind"] == "tier_downgrade" and t["subject_id"] == month)
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=hq.headers).status_code == 200
    run_at(client, hq, month, "closed")
    with sessions() as s:
        assert s.get(TieringRun, month).ruleset_version == started_with
        card = s.get(TierScore, (month, falling.dealer.id))
        assert (card.status, card.new_tier, card.explanation["version"]) == ("applied", "normal", started_with)
