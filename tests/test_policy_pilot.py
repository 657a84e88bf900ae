"""Pilots: a region-balanced share of the targets first, then promotion by the rules or by HQ."""
from __future__ import annotations

from sqlalchemy import select

from dealerflow.models import Decision, HumanTask, PolicyTarget

from .policy_support import deploy, deploy_and_publish, delivered, inbox_task, policy_yaml, status, unique
from .support import wait_until

FUTURE = "{from: 2026-01-01, to: 2099-12-31}"
ACK = "{required: true, deadline: 1h}"


def _targets(sessions, policy_id):
    with sessions() as s:
        return s.scalars(select(PolicyTarget).where(PolicyTarget.policy_id == policy_id)).all()


def test_pilot_reaches_a_balanced_share_first_then_promotes_by_the_rules(client, make_dealer, make_user, sessions):
    east, west = unique("east"), unique("west")
    hq = make_user("hq")
    dealers = [make_dealer(region=east) for _ in range(5)] + [make_dealer(region=west) for _ in range(5)]
    policy_id = unique("p")
    text = policy_yaml(policy_id, f'dealer.region in ["{east}", "{west}"]', ack=ACK, effective=FUTURE,
                       pilot="{share: 20%, duration: 3s, promote_when: 'pilot.acknowledgment_rate >= 0.5'}")
    preview = (deploy(client, hq, text), client.get(f"/api/v1/policies/{policy_id}/preview", headers=hq.headers).json())[1]
    assert (preview["targets"], preview["pilot_targets"]) == (10, 2)
    deploy_and_publish(client, hq, text)

    pilot = wait_until(lambda: [t for t in _targets(sessions, policy_id) if t.pilot and t.delivered_at], 20)
    by_id = {d.dealer.id: d for d in dealers}
    assert sorted(by_id[t.dealer_id].dealer.region for t in pilot) == sorted([east, west])  # one per region
    rest = [d for d in dealers if d.dealer.id not in {t.dealer_id for t in pilot}]
    assert client.get(f"/api/v1/policies/{policy_id}", headers=rest[0].headers).status_code == 404
    assert status(client, hq, policy_id)["status"] == "pilot"
    for t in pilot:
        assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=by_id[t.dealer_id].headers).status_code == 200

    # After 3 s the promotion rule sees an acknowledgment rate of 1.0 and the rest receive the policy.
    for d in rest:
        delivered(client, d, policy_id, timeout=30)
    # The rollout marks itself active once its delivery wave is done: a moment after the last delivery.
    figures = wait_until(lambda: (f := status(client, hq, policy_id))["status"] != "rolling_out" and f, 20)
    assert figures["status"] == "active" and figures["pilot_decision"] == "promote"
    assert figures["acknowledgment"]["delivered"] == 10
    assert figures["conversion"]["pilot"]["dealers"] == 2 and figures["conversion"]["rest"]["dealers"] == 8
    with sessions() as s:
        decision = s.scalars(select(Decision).where(Decision.subject_type == "policy_pilot",
                                                    Decision.subject_id == f"{policy_id}@v1")).one()
    assert decision.outcome == {"promote": True} and decision.rule == "promote"
    assert decision.explanation["facts"]["pilot.acknowledgment_rate"] == "1.0000"


def test_pilot_decided_by_hq_amend_repilot_then_promote(client, make_dealer, make_user, sessions):
    region = unique("r")
    hq = make_user("hq")
    dealers = [make_dealer(region=region) for _ in range(4)]
    policy_id = unique("p")
    pilot = "{share: 25%, duration: 2s, decided_by: {role: hq, sla: 1h}}"
    text = policy_yaml(policy_id, f'dealer.region == "{region}"', ack=ACK, effective=FUTURE, pilot=pilot)
    deploy_and_publish(client, hq, text)

    def decision_task(n):
        def find():
            tasks = [t for t in client.get("/api/v1/tasks", headers=hq.headers).json()
                     if t["kind"] == "policy_pilot_decision" and t["subject_id"] == policy_id]
            return len(tasks) == 1 and tasks[0]
        with sessions() as s:
            done = s.scalars(select(HumanTask).where(HumanTask.subject_id == policy_id,
                                                     HumanTask.kind == "policy_pilot_decision",
                                                     HumanTask.status == "completed")).all()
        assert len(done) == n - 1
        return wait_until(find, 20)

    task = decision_task(1)
    assert task["payload"]["figures"]["dealers"] == "1" and task["payload"]["figures"]["acknowledgment_rate"] == "0.0000"
    assert status(client, hq, policy_id)["status"] == "awaiting_decision"
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "amend", "comment": "lower the minimum order"},
                    headers=hq.headers)
    assert r.status_code == 200, r.text

    pilot_dealer = next(d for d in dealers if any(t.pilot and t.dealer_id == d.dealer.id for t in _targets(sessions, policy_id)))
    assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=pilot_dealer.headers).json()["version"] == 1
    amended = policy_yaml(policy_id, f'dealer.region == "{region}"', ack=ACK, effective=FUTURE, pilot=pilot,
                          body="Minimum order halved.")
    assert deploy(client, hq, amended).status_code == 201
    assert client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()["action"] == "amended"
    mine = delivered(client, pilot_dealer, policy_id)
    assert (mine["version"], mine["acknowledged"]) == (2, False)  # re-acknowledge the amended pilot
    assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=pilot_dealer.headers).json()["version"] == 2

    task = decision_task(2)  # the amended version was piloted again
    assert task["payload"]["version"] == 2 and task["payload"]["figures"]["acknowledgment_rate"] == "1.0000"
    client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "promote"}, headers=hq.headers)
    for d in dealers:
        assert delivered(client, d, policy_id, timeout=30)["version"] == 2
    assert status(client, hq, policy_id)["pilot_decision"] == "promote"


def test_pilot_cancelled_by_hq_reaches_nobody_else(client, make_dealer, make_user, sessions):
    region = unique("r")
    hq = make_user("hq")
    dealers = [make_dealer(region=region) for _ in range(3)]
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', ack=ACK, effective=FUTURE,
                                               pilot="{share: 10%, duration: 1s, decided_by: {role: hq, sla: 1h}}"))
    task = inbox_task(client, hq, lambda t: t["subject_id"] == policy_id)
    client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "cancel"}, headers=hq.headers)
    wait_until(lambda: status(client, hq, policy_id)["status"] == "cancelled", 20)
    assert sum(1 for t in _targets(sessions, policy_id) if t.delivered_at) == 1
    assert sum(client.get(f"/api/v1/policies/{policy_id}", headers=d.headers).status_code == 200 for d in dealers) == 1


def test_pilot_short_of_its_promotion_rule_goes_to_hq_with_the_reason(client, make_dealer, make_user, sessions):
    region = unique("r")
    hq = make_user("hq")
    dealers = [make_dealer(region=region) for _ in range(2)]
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', ack=ACK, effective=FUTURE,
                                               pilot="{share: 50%, duration: 1s, promote_when: 'pilot.acknowledgment_rate >= 0.9'}"))
    task = inbox_task(client, hq, lambda t: t["subject_id"] == policy_id)
    assert task["kind"] == "policy_pilot_decision" and task["assignee_role"] == "hq"
    assert "no rule matched" in task["payload"]["promotion_rules"]
    with sessions() as s:
        decision = s.scalars(select(Decision).where(Decision.subject_id == f"{policy_id}@v1")).one()
    assert decision.outcome == {"promote": False} and decision.rule == "default"
    client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "promote"}, headers=hq.headers)
    for d in dealers:
        delivered(client, d, policy_id, timeout=30)
