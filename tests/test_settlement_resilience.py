"""A settlement run survives its worker being killed mid-run: another worker process resumes it and
the run ends with the same totals and one posting per dealer. Schedules start the runs that are due."""
from __future__ import annotations

import asyncio
import os
import signal
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.rebates.temporal import schedule_id_for, sync_rebate_schedules
from dealerflow.models import AccountEntry, SettlementRun, Statement
from dealerflow.core.temporal import connect
from launcher.processes import stop

from .policy_support import unique
from .settlement_support import (approval_task, complete, delivered, deploy_program, program_yaml, region, stage,
                                 start, statement_of)
from .support import wait_until
from .test_resilience import start_worker


def test_a_run_resumes_on_another_worker_and_posts_once_per_dealer(settings, sessions, make_dealer, make_user,
                                                                    product):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealers = [make_dealer(region=reg) for _ in range(3)]
    for i, d in enumerate(dealers):
        delivered(sessions, d, product, 20 + 20 * i, "2025-05-10")  # 2000, 4000, 6000 → 20, 40, 120
    first = start_worker(settings, f"{settings.task_queue}-first.log")
    second = None
    try:
        with TestClient(create_app(settings)) as client:
            program = deploy_program(client, admin, program_yaml(unique("kill"), reg, confirm="1h"))
            run_id = start(client, finance, program, "2025-Q2")["run_id"]
            issued = [statement_of(client, d, run_id) for d in dealers]
            assert [s["rebate"] for s in issued] == ["20.00", "40.00", "120.00"]
            os.killpg(first.pid, signal.SIGKILL)  # mid-run, while the dealers are answering
            first.wait(10)
            for d, s in zip(dealers[:2], issued):
                assert client.post(f"/api/v1/statements/{s['id']}/confirm", headers=d.headers).status_code == 200
            second = start_worker(settings, f"{settings.task_queue}-second.log")
            assert client.post(f"/api/v1/statements/{issued[2]['id']}/confirm",
                               headers=dealers[2].headers).status_code == 200
            task = approval_task(client, finance, run_id, timeout=90)
            assert complete(client, finance, task["id"], "approve").status_code == 200
            closed = stage(client, finance, run_id, "closed", timeout=60)
            assert closed["totals"]["rebate"] == "180.00" and closed["totals"]["credited"] == "180.00"
            assert start(client, finance, program, "2025-Q2")["action"] == "existing"
        with sessions() as s:
            ids = [d.dealer.id for d in dealers]
            per_dealer = dict(s.execute(select(AccountEntry.dealer_id, func.count()).where(
                AccountEntry.dealer_id.in_(ids), AccountEntry.kind == "rebate").group_by(AccountEntry.dealer_id)).all())
            assert per_dealer == {i: 1 for i in ids}
            assert s.scalar(select(func.sum(AccountEntry.amount)).where(
                AccountEntry.dealer_id.in_(ids), AccountEntry.kind == "rebate")) == Decimal("-180.00")
            assert s.scalar(select(func.count()).select_from(Statement).where(Statement.run_id == run_id)) == 3
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)


def test_a_schedule_starts_the_run_that_is_due(client, settings, sessions, make_dealer, make_user, product):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer = make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("sch"), reg, period="month", confirm="1h"))

    async def fire() -> None:
        temporal = await connect(settings)
        assert program in await sync_rebate_schedules(client=temporal, sessions=sessions,
                                                      task_queue=settings.task_queue)
        await temporal.get_schedule_handle(schedule_id_for(program)).trigger()  # as on the 1st of a month
    asyncio.run(fire())
    # The month that ended last is due: its run starts once, whoever asked first.
    with sessions() as s:
        run = wait_until(lambda: s.scalars(select(SettlementRun).where(SettlementRun.program == program)).first())
    assert run.final and run.period == run.upto and run.started_by == "schedule"
    assert statement_of(client, dealer, run.id)["status"] == "issued"
    assert start(client, finance, program, run.period)["action"] == "existing"
