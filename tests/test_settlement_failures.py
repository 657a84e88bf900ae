"""A settlement run never leaves a person with silence: a revision reads the dealer's facts of the
period, a decision that cannot be applied comes back to finance with the reason, and a run posts
every confirmed statement before it closes."""
from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import select, text, update

from dealerflow.contracts.rebates import workflow_id_for
from dealerflow.core.temporal import connect
from dealerflow.models import Dealer, Notification, ProcessFailure, Statement

from .policy_support import unique
from .settlement_support import (approval_task, complete, delivered, deploy_program, program_yaml, region, stage,
                                 start, statement_of)
from .support import wait_until


def specialist_program(client, admin, reg: str) -> str:
    """Eligible: the dealers of `reg` tagged window_specialist (as the window program reads tags)."""
    text_ = program_yaml(unique("wsp"), reg, confirm="30s").replace(
        f"'dealer.region == \"{reg}\"'", f"'dealer.region == \"{reg}\" and \"window_specialist\" in dealer.tags'")
    return deploy_program(client, admin, text_)


def dispute_task(client, finance, statement_id: str, not_task: str | None = None) -> dict:
    return wait_until(lambda: next((t for t in client.get("/api/v1/tasks", headers=finance.headers).json()
                                    if t["kind"] == "statement_dispute" and t["subject_id"] == statement_id
                                    and t["id"] != not_task), None))


def test_a_revision_reads_the_dealer_facts_of_the_period(client, make_dealer, make_user, product, sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer = make_dealer(region=reg, tags=["window_specialist"])
    program = specialist_program(client, admin, reg)
    delivered(sessions, dealer, product, 40, "2025-05-10")  # 4000.00 → 1% = 40.00
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    mine = statement_of(client, dealer, run_id)
    assert mine["rebate"] == "40.00"
    assert client.post(f"/api/v1/statements/{mine['id']}/dispute", json={"reason": "a delivery is missing"},
                       headers=dealer.headers).status_code == 200
    task = dispute_task(client, finance, mine["id"])
    # A later re-tiering takes the tag away; the period's statement is still about the period.
    with sessions.begin() as s:
        s.execute(update(Dealer).where(Dealer.id == dealer.dealer.id).values(tags=[]))
    delivered(sessions, dealer, product, 20, "2025-06-20")
    assert complete(client, finance, task["id"], "revise", "missing delivery recorded").status_code == 200
    revised = wait_until(lambda: (s := statement_of(client, dealer, run_id))["revision"] == 2 and s)
    assert (revised["rebate"], revised["deliveries"], revised["status"]) == ("120.00", "6000.00", "issued")
    assert "window_specialist" in revised["explanation"]["facts"]["dealer.tags"]


def test_a_dispute_decision_that_cannot_be_applied_comes_back_to_finance(client, make_dealer, make_user, product,
                                                                        sessions):
    reg, admin, finance, hq = region(), make_user("admin"), make_user("finance"), make_user("hq")
    dealer = make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("dfl"), reg, confirm="30s"))
    delivered(sessions, dealer, product, 40, "2025-05-10")
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    mine = statement_of(client, dealer, run_id)
    assert client.post(f"/api/v1/statements/{mine['id']}/dispute", json={"reason": "wrong"},
                       headers=dealer.headers).status_code == 200
    task = dispute_task(client, finance, mine["id"])
    # A statement issued without the period's facts, for a dealer that has left the program since:
    # revising it cannot work, and must not be retried for ever in silence.
    with sessions.begin() as s:
        s.execute(update(Statement).where(Statement.id == mine["id"])
                  .values(explanation=text("explanation - 'facts'")))
        s.execute(update(Dealer).where(Dealer.id == dealer.dealer.id).values(region=region()))
    assert complete(client, finance, task["id"], "revise").status_code == 200

    again = dispute_task(client, finance, mine["id"], not_task=task["id"])
    assert "no longer eligible" in again["payload"]["previous"]
    first = client.get(f"/api/v1/tasks/{task['id']}", headers=finance.headers).json()
    assert "no longer eligible" in first["payload"]["failure"]
    assert [h["action"] for h in first["history"]][-1] == "failed"
    with sessions() as s:
        told = s.scalars(select(Notification.recipient_user_id).where(
            Notification.kind == "process_failure", Notification.link == f"/console/statements/{mine['id']}")).all()
        assert finance.user.id in told
        failure = s.scalars(select(ProcessFailure).where(ProcessFailure.workflow_id == f"settlement-{run_id}")).one()
        assert (failure.state, failure.activity) == ("failed", "resolve_dispute")
    listed = client.get("/api/v1/failures", headers=hq.headers).json()
    assert any(f["workflow_id"] == f"settlement-{run_id}" and "no longer eligible" in f["error"] for f in listed)
    assert client.get("/api/v1/failures", headers=finance.headers).status_code == 403
    # Finance upholds instead; the run goes on.
    assert complete(client, finance, again["id"], "uphold", "stands as issued").status_code == 200
    approve = approval_task(client, finance, run_id)
    assert complete(client, finance, approve["id"], "approve").status_code == 200
    assert stage(client, finance, run_id, "closed")["totals"]["credited"] == "40.00"


def posting_passes(settings, run_id: str) -> int:
    """How many times the run's workflow has asked to post so far (from its history)."""
    async def count() -> int:
        client = await connect(settings)
        history = await client.get_workflow_handle(workflow_id_for(run_id)).fetch_history()
        return sum(1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
                   and e.activity_task_scheduled_event_attributes.activity_type.name == "post_rebates")
    return asyncio.run(count())


def test_a_run_posts_every_confirmed_statement_before_it_closes(client, make_dealer, make_user, product, sessions,
                                                                settings):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    one, two = make_dealer(region=reg), make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("pst"), reg, confirm="30s"))
    delivered(sessions, one, product, 40, "2025-05-10")
    delivered(sessions, two, product, 60, "2025-05-10")
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    held = statement_of(client, two, run_id)
    for who in (one, two):
        s = statement_of(client, who, run_id)
        assert client.post(f"/api/v1/statements/{s['id']}/confirm", headers=who.headers).status_code == 200
    approve = approval_task(client, finance, run_id)
    # Another transaction holds one statement while the run posts.
    locker = sessions()
    locker.execute(select(Statement.id).where(Statement.id == held["id"]).with_for_update())
    try:
        assert complete(client, finance, approve["id"], "approve").status_code == 200
        wait_until(lambda: statement_of(client, one, run_id)["posted_at"])
        # The locked statement is left: the run posts again after a pause instead of closing.
        wait_until(lambda: posting_passes(settings, run_id) >= 3, 30)
        r = client.get(f"/api/v1/settlements/{run_id}", headers=finance.headers).json()
        assert r["stage"] == "posting"
    finally:
        locker.rollback()
        locker.close()
    closed = stage(client, finance, run_id, "closed")
    assert closed["totals"]["rebate"] == closed["totals"]["credited"] == "160.00"
    assert closed["totals"]["posted"] == 2
    assert Decimal(closed["totals"]["credited"]) == Decimal("160.00")
