"""A withdrawal that cannot be applied leaves the rollout running, listed for HQ, and HQ can withdraw
again; the API refuses a reason that could never be stored."""
from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import WithdrawInput
from dealerflow.contracts.policies import workflow_id_for
from dealerflow.core.temporal import connect
from workflows import PolicyRolloutWorkflow

from .test_console import login
from .policy_support import deploy_and_publish, delivered, policy_yaml, status, unique
from .support import wait_until

LONG = dict(ack="{required: true, deadline: 1h}", effective="{from: 2026-01-01, to: 2099-12-31}")


def test_a_withdrawal_that_fails_leaves_a_policy_hq_can_withdraw_again(client, settings, make_dealer, make_user):
    region, hq, admin = unique("r"), make_user("hq"), make_user("admin")
    dealer = make_dealer(region=region)
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', **LONG))
    delivered(client, dealer, policy_id)
    wait_until(lambda: status(client, hq, policy_id)["status"] == "active")

    # The API refuses what the database could never store ...
    for reason in ("bad\x00reason", "\x07", "x" * 1001, "   "):
        r = client.post(f"/api/v1/policies/{policy_id}/withdraw", json={"reason": reason}, headers=hq.headers)
        assert r.status_code == 422, (reason, r.text)

    # ... and a close that fails anyway (here: a caller going round the API) leaves a state HQ can act on.
    async def withdraw_directly():
        temporal = await connect(settings)
        handle = temporal.get_workflow_handle(workflow_id_for(policy_id))
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(PolicyRolloutWorkflow.withdraw, WithdrawInput(hq.user.username, "nul\x00"))
        return failed.value.cause.message

    message = asyncio.run(withdraw_directly())
    assert message.startswith("withdrawing failed:") and "withdraw it again" in message
    assert status(client, hq, policy_id)["status"] == "active"
    listed = client.get("/api/v1/failures", headers=admin.headers).json()
    mine = [f for f in listed if f["workflow_id"] == workflow_id_for(policy_id)]
    assert mine and mine[0]["state"] == "failed" and mine[0]["activity"] == "close_policy"
    told = client.get("/api/v1/notifications", headers=hq.headers).json()
    assert any(n["kind"] == "process_failure" and policy_id in n["title"] for n in told)
    login(client, admin.user.username)
    page = client.get("/console/failures")
    assert page.status_code == 200 and policy_id in page.text and "withdrawing failed" not in page.text
    assert "close_policy" in page.text
    client.cookies.clear()

    r = client.post(f"/api/v1/policies/{policy_id}/withdraw", json={"reason": "replaced"}, headers=hq.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    assert status(client, hq, policy_id)["status"] == "withdrawn"
