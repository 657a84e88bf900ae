"""What the console shows right after a person acts: a policy just published is not a draft any more,
and an order a person approved says who decided it."""
from __future__ import annotations

from .policy_support import FUTURE, deploy, policy_yaml, unique
from .support import wait_until
from .test_console_policies import ACK, login, row


def test_a_policy_just_published_shows_its_rollout_not_a_draft(client, make_dealer, make_user):
    region, hq = unique("r"), make_user("hq")
    make_dealer(region=region)
    policy_id, waiting = unique("p"), unique("p")
    for pid in (policy_id, waiting):
        assert deploy(client, hq, policy_yaml(pid, f'dealer.region == "{region}"', ack=ACK,
                                              effective=FUTURE)).status_code == 201
    login(client, hq.user.username)
    r = client.post(f"/console/policies/{policy_id}/publish", follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])  # the page the browser is sent to, at once
    assert page.status_code == 200
    assert f'action="/console/policies/{policy_id}/publish"' not in page.text
    assert 'class="badge draft"' not in page.text and "not published" not in page.text
    # Before the rollout has written the policy, the page says it is being published and refreshes.
    page = client.get(f"/console/policies/{waiting}", params={"publishing": 1})
    assert "publishing v1…" in page.text and 'class="badge publishing"' in page.text
    assert f'action="/console/policies/{waiting}/publish"' not in page.text and 'http-equiv="refresh"' in page.text


def test_the_orders_list_names_the_person_who_decided(client, make_dealer, make_user, product):
    dealer, approver = make_dealer(rating="C"), make_user("credit_manager")
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 2}]},
                         headers=dealer.headers).json()
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=approver.headers)
                         .json()["review_task_id"])
    assert client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "approve"},
                       headers=approver.headers).status_code == 200
    wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json()["status"]
               == "approved")
    login(client, approver.user.username)
    listed = row(client.get("/console/orders").text, placed["id"][:8])
    assert listed[-1] == f"approve by {approver.user.username}", listed
    summary = next(o for o in client.get("/api/v1/orders", headers=approver.headers).json() if o["id"] == placed["id"])
    assert (summary["reviewed_by"], summary["review_outcome"]) == (approver.user.username, "approve")
