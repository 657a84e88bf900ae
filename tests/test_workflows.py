"""Workflow code stays deterministic: real histories from the server replay without divergence."""
from __future__ import annotations

import asyncio

from temporalio.worker import Replayer

from dealerflow.core.temporal import connect
from launcher.worker import RUNNER
from workflows import ALL_WORKFLOWS

from .support import wait_until


def test_order_and_task_histories_replay(client, make_dealer, make_user, product, settings):
    dealer, approver = make_dealer(rating="C"), make_user("credit_manager")
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                         headers=dealer.headers).json()
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=approver.headers)
                         .json()["review_task_id"])
    wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}", headers=approver.headers).status_code == 200)
    assert client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "approve"},
                       headers=approver.headers).status_code == 200
    wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json()["status"] == "approved")

    async def replay():
        c = await connect(settings)
        histories = []
        for wid in (f"order-{placed['id']}", f"task-{task_id}"):
            handle = c.get_workflow_handle(wid)
            await handle.result()
            histories.append(await handle.fetch_history())
        replayer = Replayer(workflows=ALL_WORKFLOWS, workflow_runner=RUNNER)
        return [await replayer.replay_workflow(h) for h in histories]

    results = asyncio.run(replay())
    assert all(r.replay_failure is None for r in results), [r.replay_failure for r in results]


def test_policy_rollout_history_replays_and_stays_short(client, make_dealer, make_user, settings):
    from .policy_support import deploy_and_publish, delivered, policy_yaml, unique

    region = unique("r")
    hq = make_user("hq")
    dealers = [make_dealer(region=region) for _ in range(3)]
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(
        policy_id, f'dealer.region == "{region}"', ack="{required: true, deadline: 2s, reminders: [1s]}",
        pilot="{share: 30%, duration: 1s, promote_when: 'pilot.dealers >= 1'}",
        tasks="{key: photo, title: Photo, due: 2s, evidence: [photo], reviewer: hq, points: 5}"))
    for d in dealers:
        delivered(client, d, policy_id, timeout=30)

    async def replay():
        c = await connect(settings)
        handle = c.get_workflow_handle(f"policy-{policy_id}")
        await handle.result()
        history = await handle.fetch_history()
        result = await Replayer(workflows=ALL_WORKFLOWS, workflow_runner=RUNNER).replay_workflow(history)
        return result, len(history.events)

    result, events = asyncio.run(replay())
    assert result.replay_failure is None, result.replay_failure
    assert events < 200  # pilot, promotion, two waves of chasing: batches and sweeps, not dealers
