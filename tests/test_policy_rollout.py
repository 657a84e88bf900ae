"""Policy rollout end to end on the real servers: targeting and preview, delivery, acknowledgment,
reminders and escalations at their offsets, overdue, status figures, amendment, withdrawal."""
from __future__ import annotations

from sqlalchemy import select

from dealerflow.models import HumanTask

from .policy_support import deploy, deploy_and_publish, delivered, policy_yaml, status, unique
from .support import wait_until


def test_targeting_acknowledgment_reminders_escalation_overdue_and_status(client, make_dealer, make_user, sessions):
    region = unique("r")
    hq = make_user("hq")
    manager = make_user("account_manager")
    quick = make_dealer(region=region, level=1, tags=["window_specialist"], account_manager=manager.user.username)
    silent = make_dealer(region=region, level=1, account_manager=manager.user.username)
    level2 = make_dealer(region=region, level=2)
    rural = make_dealer(region=region, level=1, tags=["rural_market"])
    policy_id = unique("p")
    text = policy_yaml(policy_id, f'dealer.region == "{region}" and dealer.level == 1 and "rural_market" not in dealer.tags')

    r = deploy(client, hq, text)
    assert r.status_code == 201, r.text
    preview = client.get(f"/api/v1/policies/{policy_id}/preview", headers=hq.headers).json()
    assert preview["targets"] == 2 and preview["by_region"] == {region: 2}
    assert sorted(preview["sample"]) == sorted([quick.dealer.code, silent.dealer.code])
    assert client.get(f"/api/v1/policies/{policy_id}/preview", headers=quick.headers).status_code == 403

    published = client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()
    assert published["action"] == "started" and published["version"] == 1
    assert client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()["action"] == "unchanged"

    inbox = delivered(client, quick, policy_id)
    assert inbox["read"] is False and inbox["acknowledged"] is False
    detail = client.get(f"/api/v1/policies/{policy_id}", headers=quick.headers).json()
    assert detail["title"] == "Spring display subsidy" and detail["my"]["acknowledged"] is False
    assert delivered(client, quick, policy_id)["read"] is True
    first = client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=quick.headers).json()
    again = client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=quick.headers).json()
    assert first == again and first["late"] is False and first["version"] == 1
    for outsider in (level2, rural):  # not targeted: the policy does not exist for them
        assert client.get(f"/api/v1/policies/{policy_id}", headers=outsider.headers).status_code == 404
        assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=outsider.headers).status_code == 404
        assert client.get("/api/v1/policies", headers=outsider.headers).json() == []

    # Offsets: reminders at 1s and 2s, account manager at 2s, HQ at 3s, overdue at 4s.
    def kinds_of(actor):
        return [n["kind"] for n in client.get("/api/v1/notifications", headers=actor.headers).json()]
    wait_until(lambda: "overdue" in kinds_of(silent), 30)
    figures = status(client, hq, policy_id)
    ack = figures["acknowledgment"]
    assert (ack["targeted"], ack["delivered"], ack["acknowledged_on_time"], ack["acknowledged_late"],
            ack["not_yet"], ack["overdue"], ack["reminders_sent"], ack["escalated"]) == (2, 2, 1, 0, 0, 1, 2, 1)
    assert figures["by_region"] == [{**{k: v for k, v in ack.items()}, "region": region}]
    assert [d["code"] for d in figures["silent"]["dealers"]] == [silent.dealer.code]
    kinds = kinds_of(silent)
    assert kinds.count("reminder") == 2 and kinds.count("overdue") == 1 and kinds.count("policy") == 1
    assert "reminder" not in kinds_of(quick)

    with sessions() as s:
        escalations = s.scalars(select(HumanTask).where(HumanTask.subject_id == policy_id,
                                                        HumanTask.kind == "policy_escalation")
                                .order_by(HumanTask.created_at)).all()
    assert [(t.assignee_role, t.assignee_user_id) for t in escalations] == [
        ("account_manager", manager.user.id), ("hq", None)]
    assert [d["code"] for d in escalations[0].payload["dealers"]] == [silent.dealer.code]
    other_manager = make_user("account_manager")
    for state in ("open", "cancelled"):  # cancelled once the rollout has closed
        assert client.get("/api/v1/tasks", params={"status": state}, headers=other_manager.headers).json() == []
    # Two reads: the rollout may close and cancel the task between them, so it may be in both.
    mine = {t["id"] for state in ("open", "cancelled")
            for t in client.get("/api/v1/tasks", params={"status": state}, headers=manager.headers).json()}
    assert mine == {str(escalations[0].id)}

    late = client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=silent.headers).json()
    assert late["late"] is True
    ack = status(client, hq, policy_id)["acknowledgment"]
    assert (ack["acknowledged_on_time"], ack["acknowledged_late"], ack["overdue"]) == (1, 1, 0)

    # The window is over and every chase step has run: the rollout closes with its figures and
    # the escalation tasks nobody answered are cancelled.
    def closed():
        with sessions() as s:
            from dealerflow.models import Policy
            p = s.get(Policy, policy_id)
            return p.status == "closed" and p
    policy = wait_until(closed, 20)
    final = policy.final_figures["acknowledgment"]
    assert final["acknowledged_on_time"] == 1 and final["acknowledged_late"] + final["overdue"] == 1
    with sessions() as s:
        assert {t.status for t in s.scalars(select(HumanTask).where(HumanTask.subject_id == policy_id))} == {"cancelled"}


def test_an_invalid_policy_file_is_refused_with_file_and_line_and_nothing_is_published(client, make_user):
    hq, admin = make_user("hq"), make_user("admin")
    policy_id = unique("p")
    r = deploy(client, hq, policy_yaml(policy_id, "dealer.levl == 1"), filename="rules/policies/test.yaml")
    assert r.status_code == 422
    assert r.json()["errors"][0]["text"].startswith("rules/policies/test.yaml:8 policy.target: unknown fact 'dealer.levl'")
    assert client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).status_code == 404
    assert client.get(f"/api/v1/policies/{policy_id}/status", headers=hq.headers).status_code == 404
    credit = "ruleset: credit_approval\nkind: credit_approval\nfacts: {order.amount: {type: money}}\nrules: []\ndefault: {decision: review}\n"
    assert deploy(client, hq, credit).status_code == 403  # HQ deploys policies, admins the rest
    assert deploy(client, admin, policy_yaml(policy_id, "dealer.level == 1")).status_code == 201


def test_amendment_needs_reacknowledgment_and_withdrawal_ends_the_rollout(client, make_dealer, make_user):
    region = unique("r")
    hq = make_user("hq")
    a, b = make_dealer(region=region), make_dealer(region=region)
    policy_id = unique("p")
    long_ack = "{required: true, deadline: 1h}"
    future = "{from: 2026-01-01, to: 2099-12-31}"
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', ack=long_ack, effective=future))
    delivered(client, a, policy_id)
    assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=a.headers).json()["version"] == 1

    v2 = policy_yaml(policy_id, f'dealer.region == "{region}"', ack=long_ack, effective=future,
                     title="Spring display subsidy (minimum order halved)")
    r = deploy(client, hq, v2)
    assert r.json()["version"] == 2
    published = client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()
    assert published["action"] == "amended" and published["version"] == 2
    mine = delivered(client, a, policy_id)
    assert (mine["version"], mine["acknowledged"], mine["title"]) == (2, False, "Spring display subsidy (minimum order halved)")
    assert any(n["title"].startswith("Policy amended") for n in client.get("/api/v1/notifications", headers=a.headers).json())
    ack = client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=a.headers).json()
    assert ack["version"] == 2
    figures = status(client, hq, policy_id)
    assert figures["version"] == 2 and figures["acknowledgment"]["acknowledged_on_time"] == 1
    assert figures["acknowledgment"]["not_yet"] == 1

    r = client.post(f"/api/v1/policies/{policy_id}/withdraw", json={"reason": "replaced by the summer policy"},
                    headers=hq.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    assert status(client, hq, policy_id)["status"] == "withdrawn"
    assert any(n["title"].startswith("Policy withdrawn") for n in client.get("/api/v1/notifications", headers=b.headers).json())
    assert client.post(f"/api/v1/policies/{policy_id}/withdraw", json={"reason": "again"}, headers=hq.headers).status_code == 409
    assert client.post(f"/api/v1/policies/{policy_id}/withdraw", json={"reason": "x"}, headers=a.headers).status_code == 403


def test_a_closed_policy_republished_with_a_new_version_reaches_everyone_again(client, make_dealer, make_user):
    region = unique("r")
    hq = make_user("hq")
    dealer = make_dealer(region=region)
    policy_id = unique("p")
    quick = "{required: true, deadline: 1s}"
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', ack=quick))
    assert client.post(f"/api/v1/policies/{policy_id}/acknowledge", headers=dealer.headers).status_code in (200, 404)
    wait_until(lambda: client.get(f"/api/v1/policies/{policy_id}/status", headers=hq.headers).json().get("status")
               == "closed", 20)
    assert client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()["action"] == "unchanged"
    r = deploy(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', ack=quick, title="Second season"))
    assert r.json()["version"] == 2
    assert client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()["action"] == "started"
    mine = wait_until(lambda: (p := delivered(client, dealer, policy_id)) and p["version"] == 2 and p)
    assert (mine["title"], mine["acknowledged"]) == ("Second season", False)
