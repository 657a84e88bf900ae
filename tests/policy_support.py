"""Policy files for tests: unique ids and regions per test (the database is shared by the session),
durations in seconds."""
from __future__ import annotations

import re
import uuid

from .support import wait_until


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def policy_yaml(policy_id: str, target: str, *, title: str = "Spring display subsidy", body: str = "Set up the display.",
                ack: str = "{required: true, deadline: 4s, reminders: [1s, 2s], escalate: [{after: 2s, to: account_manager}, {after: 3s, to: hq}]}",
                pilot: str | None = None, tasks: str | None = None,
                effective: str = "{from: 2026-01-01, to: 2026-01-31}") -> str:
    """A policy file. The effective window is in the past by default, so the rollout closes once its
    last chase step has run."""
    text = (f"ruleset: {policy_id}\nkind: policy\npolicy:\n  title: {title}\n  category: promotion\n"
            f"  body: {body!r}\n  effective: {effective}\n  target: '{target}'\n  acknowledgment: {ack}\n")
    if pilot:
        text += f"  pilot: {pilot}\n"
    if tasks:
        text += "  tasks:\n" + "".join(f"    - {t}\n" for t in tasks.strip().splitlines())
    return text


def ruleset_of(text: str) -> str:
    return re.search(r"^ruleset: *(\S+)", text, re.M).group(1)


def deploy(client, actor, text: str, filename: str | None = None):
    """Deploy a rule file, named after its ruleset unless `filename` says otherwise."""
    filename = filename or f"rules/policies/{ruleset_of(text)}.yaml"
    return client.post("/api/v1/rules/deploy", params={"filename": filename}, content=text.encode(),
                       headers={**actor.headers, "Content-Type": "application/yaml"})


def deploy_and_publish(client, hq, text: str) -> dict:
    r = deploy(client, hq, text)
    assert r.status_code == 201, r.text
    policy_id = r.json()["ruleset"]
    r = client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers)
    assert r.status_code == 202, r.text
    return r.json()


def delivered(client, dealer, policy_id: str, timeout: float = 20) -> dict:
    return wait_until(lambda: next((p for p in client.get("/api/v1/policies", headers=dealer.headers).json()
                                    if p["id"] == policy_id), None), timeout)


def status(client, hq, policy_id: str) -> dict:
    r = client.get(f"/api/v1/policies/{policy_id}/status", headers=hq.headers)
    assert r.status_code == 200, r.text
    return r.json()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
FUTURE = "{from: 2026-01-01, to: 2099-12-31}"  # an effective window that keeps the rollout open


def publish_with_tasks(client, make_dealer, make_user, tasks: str):
    """Two dealers of a fresh region receive a policy with `tasks`; returns (policy id, hq, dealer, other)."""
    region = unique("r")
    hq, dealer, other = make_user("hq"), make_dealer(region=region), make_dealer(region=region)
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"', tasks=tasks,
                                               ack="{required: false}", effective=FUTURE))
    delivered(client, dealer, policy_id)
    delivered(client, other, policy_id)
    return policy_id, hq, dealer, other


def assignment(client, dealer, key: str) -> dict:
    return next(a for a in client.get("/api/v1/policy-tasks", headers=dealer.headers).json() if a["task_key"] == key)


def inbox_task(client, actor, match, timeout: float = 20) -> dict:
    """Wait for the first open task in `actor`'s inbox for which `match(task)` holds."""
    return wait_until(lambda: next((t for t in client.get("/api/v1/tasks", headers=actor.headers).json()
                                    if match(t)), None), timeout)
