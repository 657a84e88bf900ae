"""`dealerflow dev`: every part of the product on one machine, stopped cleanly by Ctrl-C."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from dealerflow.core.config import Settings
from dealerflow.core.db import make_engine, make_sessionmaker
from dealerflow.models import Dealer

from .processes import spawn, stop
from .stack import EmbeddedStack, prepare


def _step(message: str) -> None:
    print(f"• {message}", flush=True)


def run_dev(settings: Settings, *, reset: bool, seed: bool, dealers: int) -> int:
    if reset and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
        settings = Settings.from_env()  # a new secret key for the new data dir
    stack = EmbeddedStack(settings.data_dir, settings.temporal_port, settings.temporal_ui_port)
    runtime_file = settings.data_dir / "runtime.json"
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        # Only the first signal interrupts: a second Ctrl-C, or a supervisor signalling the whole
        # process group again, must not cut the cleanup short and leave servers behind.
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        _step(f"starting PostgreSQL and Temporal (data in {settings.data_dir})")
        settings = stack.start(settings)
        _step("migrating the database, registering search attributes, deploying rules/")
        for d in prepare(settings):
            if d.changed:
                _step(f"  {d.ruleset} v{d.version} deployed")
        engine = make_engine(settings.database_url, pool_size=1)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            empty = session.scalar(select(func.count()).select_from(Dealer)) == 0
        seeded = seed and empty
        if seeded:
            from launcher.demo import seed_demo
            _step(f"loading the demo dataset ({dealers} dealers, a year of orders)…")
            started = time.monotonic()
            with sessions.begin() as session:
                summary = seed_demo(session, dealers=dealers)
            _step(f"  {summary} in {time.monotonic() - started:.1f}s")
            _history_demo(sessions)
        engine.dispose()
        runtime_file.write_text(json.dumps({"database_url": settings.database_url,
                                            "temporal_address": settings.temporal_address}))
        _step("starting the worker and the API")
        for name in ("worker", "api"):
            children[name] = spawn([name], settings, f"{name}.log")
        _wait_for_api(settings, children.values())
        if seeded:
            _publish_demo_policies(settings)
            _settle_demo(settings)
            _retier_demo(settings)
            _credit_demo(settings)
            _diversion_demo(settings)
            _logistics_demo(settings)
            _governance_demo(settings)
            _service_demo(settings)
            _inventory_demo(settings)
        _banner(settings)
        return _supervise(settings, children)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        # First thing, whatever ended the try: from here on on_signal no longer raises.
        stopping = True
        # Then ignored outright: pg_ctl, which stops PostgreSQL from inside our process group,
        # inherits that, so a repeated group signal cannot kill it half-way either.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children.values()):
            stop(child)
        stack.stop()
        runtime_file.unlink(missing_ok=True)
        print("stopped: no process left behind", flush=True)


MAX_RESTARTS, RESTART_WINDOW = 5, 60.0  # per child; more crashes than that is a fault, not a hiccup


def _supervise(settings: Settings, children: dict[str, subprocess.Popen]) -> int:
    """Restart a child that exits, after a short backoff, as a process supervisor would; give up
    (the caller then stops everything) when one keeps crashing."""
    restarts: dict[str, list[float]] = {name: [] for name in children}
    while True:
        time.sleep(0.5)
        for name, proc in children.items():
            code = proc.poll()
            if code is None:
                continue
            log = settings.data_dir / f"{name}.log"
            now = time.monotonic()
            recent = restarts[name] = [t for t in restarts[name] if now - t < RESTART_WINDOW]
            if len(recent) >= MAX_RESTARTS:
                print(f"{name} exited (code {code}) after {MAX_RESTARTS} restarts within {RESTART_WINDOW:.0f}s; "
                      f"giving up, see {log} — stopping", file=sys.stderr, flush=True)
                return 1
            recent.append(now)
            stop(proc)  # what the crashed child left in its process group goes with it
            print(f"{name} exited (code {code}); restarting ({len(recent)}/{MAX_RESTARTS})…", flush=True)
            time.sleep(min(0.5 * 2 ** (len(recent) - 1), 5))  # a crash loop must not spin
            children[name] = spawn([name], settings, f"{name}.log")


def _publish_demo_policies(settings: Settings, timeout: float = 60) -> None:
    """First run: roll out the demo policies, as HQ would, and let the demo dealers answer."""
    import asyncio

    from api.policies.temporal import publish_policy
    from launcher.demo import DEMO_POLICIES, simulate_acknowledgments
    from dealerflow.core.temporal import connect
    from workflows import PolicyRolloutWorkflow

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def publish(policy_id: str, client) -> None:
        result = await publish_policy(client=client, task_queue=settings.task_queue, sessions=sessions,
                                      policy_id=policy_id, actor="hq")
        _step(f"  policy {policy_id} v{result.version}: {result.action}")
        # Delivered once the rollout has scheduled its first chase step.
        handle = client.get_workflow_handle(result.workflow_id)
        deadline = time.monotonic() + timeout
        while (await handle.query(PolicyRolloutWorkflow.progress))["next_sweep"] is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{policy_id} was not delivered within {timeout:.0f}s")
            await asyncio.sleep(0.3)

    async def publish_all() -> None:
        client = await connect(settings)
        for policy_id in DEMO_POLICIES:
            await publish(policy_id, client)

    try:
        _step("publishing the demo policies")
        asyncio.run(publish_all())
        for policy_id in DEMO_POLICIES:
            with sessions.begin() as s:
                answered = simulate_acknowledgments(s, policy_id)
            _step(f"  {answered} dealers acknowledged {policy_id}")
    except Exception as e:  # the demo still runs; the policies can be published from the console
        print(f"warning: could not publish the demo policies: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _settle_demo(settings: Settings, timeout: float = 120) -> None:
    """First run: settle the last closed period of each rebate program (and the current period's
    last month, on account), as finance would, and let the dealers answer their statements."""
    import asyncio
    from datetime import datetime, timezone

    from api.rebates.temporal import start_settlement, wake_settlement
    from dealerflow.shared.accounts import business_date
    from launcher.demo import demo_runs, simulate_statement_answers
    from dealerflow.models import SettlementRun
    from dealerflow.core.temporal import connect

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    today = business_date(datetime.now(timezone.utc))

    async def settle() -> None:
        client = await connect(settings)
        with sessions() as session:
            plans = demo_runs(session, today)
        for plan in plans:
            await start_settlement(client=client, task_queue=settings.task_queue, sessions=sessions,
                                   program=plan.program, period=plan.period.key, upto=plan.upto.key,
                                   actor="finance", today=today)
            deadline = time.monotonic() + timeout
            while True:  # statements are issued once the run has frozen its figures
                with sessions() as session:
                    run = session.get(SettlementRun, plan.run_id)
                    if run is not None and run.frozen_at is not None:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{plan.run_id} issued no statements within {timeout:.0f}s")
                await asyncio.sleep(0.3)
            with sessions.begin() as session:
                confirmed, disputed = simulate_statement_answers(session, plan.run_id)
            await wake_settlement(client, plan.run_id)
            _step(f"  {plan.run_id}: {run.totals.get('statements', 0)} statements, rebate "
                  f"{run.totals.get('rebate')}; {confirmed} confirmed, {disputed} disputed")

    try:
        _step("settling the last closed rebate periods")
        asyncio.run(settle())
    except Exception as e:  # the demo still runs; finance can start the runs from the console
        print(f"warning: could not start the demo settlements: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _retier_demo(settings: Settings, timeout: float = 120) -> None:
    """First run: re-tier the demo dealers for this month, as the monthly schedule would; core
    downgrades then wait in HQ's inbox and account managers get their silent dealers."""
    import asyncio
    from datetime import datetime, timezone

    from api.tiering.temporal import start_retiering
    from dealerflow.models import SilentDealer, TieringRun
    from dealerflow.core.temporal import connect

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def retier() -> tuple[TieringRun, int]:
        client = await connect(settings)
        started = await start_retiering(client=client, task_queue=settings.task_queue, sessions=sessions, month=None,
                                        actor="hq", now=datetime.now(timezone.utc))
        deadline = time.monotonic() + timeout
        while True:
            with sessions() as session:
                run = session.get(TieringRun, started.month)
                if run is not None and run.stage in ("awaiting_approval", "closed"):
                    return run, session.scalar(select(func.count()).select_from(SilentDealer)
                                               .where(SilentDealer.run_month == run.month))
            if time.monotonic() > deadline:
                raise TimeoutError(f"re-tiering {started.month} did not finish within {timeout:.0f}s")
            await asyncio.sleep(0.3)

    try:
        _step("re-tiering the dealers")
        run, silent = asyncio.run(retier())
        t = run.totals
        _step(f"  {run.month}: {t.get('changes', 0)} changes, {t.get('awaiting_approval', 0)} core downgrades "
              f"waiting for HQ, {silent} silent dealers flagged")
    except Exception as e:  # the demo still runs; HQ can start a run from the API
        print(f"warning: could not re-tier the demo dealers: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _history_demo(sessions) -> None:
    """First run: the previous ERP's year of order history before the demo's orders, checked in a dry
    run and then imported, as finance does on /console/imports/history."""
    from api.orders.history import run_import
    from dealerflow.orders import history
    from launcher.demo import demo_history

    try:
        with sessions() as session:
            data = demo_history(session)
        for dry in (True, False):
            found, _ = run_import(sessions, filename="erp-history.csv", actor="finance", dry_run=dry,
                                  work=lambda s: history.import_file(s, data=data, actor="finance", dry_run=dry))
        _step(f"  the ERP's history before that: {found.orders} orders, {found.lines} lines, {found.returns} "
              f"returns, {found.payments} payments imported")
    except Exception as e:  # the demo still runs; history can be imported in the console
        print(f"warning: could not import the demo's ERP history: {e}", file=sys.stderr)
def _credit_demo(settings: Settings, timeout: float = 120) -> None:
    """First run: score the demo dealers' credit for this month from their ledgers, as the monthly
    schedule would: late payers' ratings and limits fall, increases wait for the credit manager."""
    import asyncio
    from datetime import datetime, timezone

    from api.credit.temporal import start_scoring
    from dealerflow.core.temporal import connect
    from dealerflow.models import CreditRun

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def score() -> CreditRun:
        client = await connect(settings)
        started = await start_scoring(client=client, task_queue=settings.task_queue, sessions=sessions, month=None,
                                      actor="credit_manager", now=datetime.now(timezone.utc))
        deadline = time.monotonic() + timeout
        while True:
            with sessions() as session:
                run = session.get(CreditRun, started.month)
                if run is not None and run.stage == "closed":
                    return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"credit scoring {started.month} did not finish within {timeout:.0f}s")
            await asyncio.sleep(0.3)

    try:
        _step("scoring the dealers' credit")
        run = asyncio.run(score())
        t = run.totals
        _step(f"  {run.month}: ratings {t.get('by_rating')}, {t.get('decreased', 0)} limits lowered, "
              f"{t.get('awaiting_approval', 0)} increases waiting for the credit manager")
    except Exception as e:  # the demo still runs; a credit manager can start a run from the console
        print(f"warning: could not score the demo dealers' credit: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _diversion_demo(settings: Settings) -> None:
    """First run: a batch of window codes shipped by one dealer per region, and a day of scans from
    the market sent as the scan gateways would; one dealer's windows sold in another region open a case."""
    import asyncio

    from api.diversion.temporal import record_scans
    from launcher.demo import demo_scans
    from dealerflow.core.temporal import connect

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def send(rows: list[dict]):
        client = await connect(settings)
        return await record_scans(client=client, task_queue=settings.task_queue, sessions=sessions, rows=rows)

    try:
        _step("registering product codes and sending a day of scans")
        with sessions.begin() as session:
            rows = demo_scans(session)
        result = asyncio.run(send(rows))
        _step(f"  {result.accepted} scans, {result.alerts} alerts; open case "
              f"{', '.join(str(c.case_id) for c in result.cases) or 'none'} waits for HQ's investigation")
    except Exception as e:  # the demo still runs; scans can be sent to the API
        print(f"warning: could not load the demo scans: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _logistics_demo(settings: Settings) -> None:
    """First run: parcels of d0001's latest orders on their way through the fixture provider (their
    workflows started, their tracks pushed as the aggregator would), one parcel of another dealer
    signed outside its city, and a track of a waybill nobody recorded."""
    import asyncio

    from api.diversion.temporal import start_cases
    from api.logistics.temporal import start_shipments, tell
    from dealerflow.core.temporal import connect
    from dealerflow.logistics import tracking
    from dealerflow.logistics.providers import Push
    from launcher.demo import demo_parcels

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def run():
        client = await connect(settings)
        with sessions() as session:
            demo = demo_parcels(session)
            for parcel, dealer in demo.recorded:
                await start_shipments(client=client, task_queue=settings.task_queue, parcels=[parcel], dealer=dealer,
                                      auto_confirm_seconds=settings.receipt_auto_confirm_seconds)
            session.commit()
        with sessions.begin() as session:
            ingested = tracking.ingest(session, Push("fixture", tracking.poll_body(demo.tracks), tuple(demo.tracks)),
                                       source="poll")
        told = await tell(client=client, parcels=ingested.tell)
        with sessions.begin() as session:
            tracking.mark_told(session, told)
        await start_cases(client=client, task_queue=settings.task_queue, cases=ingested.cases)
        return demo, ingested

    try:
        _step("shipping d0001's latest orders in parcels and tracking them")
        demo, ingested = asyncio.run(run())
        _step(f"  {len(demo.recorded)} parcels, {ingested.new} tracking events, {ingested.alerts} signed outside "
              f"the dealer's area; waybill {demo.unmatched} tracked with no parcel")
    except Exception as e:  # the demo still runs; shipments can be recorded from the console
        print(f"warning: could not load the demo parcels: {e}", file=sys.stderr)
def _governance_demo(settings: Settings) -> None:
    """First run: the credit decisions of the last 90 days, and a credit rule change proposed by the
    company's rule pipeline, waiting for an admin with its impact report."""
    import asyncio

    from api.governance.temporal import start_proposal
    from dealerflow.core.temporal import connect
    from dealerflow.governance import proposals
    from launcher.demo import DEMO_PROPOSER, demo_credit_proposal, demo_decisions

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        _step("storing the last 90 days' credit decisions and proposing a credit rule change")
        shipped = (settings.rules_dir / "credit_approval.yaml").read_text(encoding="utf-8")
        with sessions.begin() as session:
            stored = demo_decisions(session)
            proposal = proposals.propose(session, filename="rules/credit_approval.yaml",
                                         text=demo_credit_proposal(shipped), actor=DEMO_PROPOSER,
                                         comment="Rating B orders to a credit manager: B-rated dealers paid late this year")
            spec, workflow_id, proposal_id = proposals.review_spec(session, proposal), proposal.workflow_id, proposal.id

        async def start():
            client = await connect(settings)
            await start_proposal(client=client, task_queue=settings.task_queue, workflow_id=workflow_id,
                                 proposal_id=str(proposal_id), review=spec, sessions=sessions)
        asyncio.run(start())
        _step(f"  {stored} decisions; proposal {proposal_id} waits for an admin (/console/rules/proposals)")
    except Exception as e:  # the demo still runs; a change can be proposed from the console
        print(f"warning: could not propose the demo rule change: {e}", file=sys.stderr)
    finally:
        engine.dispose()



def _service_demo(settings: Settings) -> None:
    """First run: dealer requests in every state, their workflows started, and one SLA sweep so the
    requests past their targets show as escalated."""
    import asyncio
    from datetime import datetime, timezone

    from api.service.temporal import start_request
    from dealerflow.core.temporal import connect
    from dealerflow.service import sla
    from dealerflow.service.rules import ruleset as service_rules
    from dealerflow.care import daily
    from dealerflow.shared.accounts import business_date
    from api.care.temporal import start_redemption
    from launcher.demo import demo_care, demo_messaging, demo_requests

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def start(rows, reopen_within):
        client = await connect(settings)
        for request_id, workflow_id, task, code, region in rows:
            await start_request(client=client, task_queue=settings.task_queue, workflow_id=workflow_id,
                                request_id=request_id, task=task, reopen_within=reopen_within, dealer_code=code,
                                region=region)

    try:
        _step("filing the demo dealers' requests")
        now = datetime.now(timezone.utc)
        with sessions.begin() as session:
            rows = demo_requests(session, now)
            reopen_within = service_rules(session)[1].reopen_within
        asyncio.run(start(rows, reopen_within))
        with sessions.begin() as session:
            swept = sla.sweep(session, now)
        _step(f"  {len(rows)} open requests; {swept.breached} targets already past, escalated")
        with sessions.begin() as session:
            demo_care(session, business_date(now))
            cared = daily.run_day(session, business_date(now))
        _step(f"  care: {cared.greeted} greeted today, {cared.told_eve} managers told of tomorrow,"
              f" {cared.contact_tasks} contact tasks")
        with sessions.begin() as session:
            redemptions = demo_messaging(session, now)

        async def redeem():
            client = await connect(settings)
            for redemption_id, task, code in redemptions:
                await start_redemption(client=client, task_queue=settings.task_queue, redemption_id=redemption_id,
                                       task=task, dealer_code=code)
        asyncio.run(redeem())
        _step(f"  announcements, d0001's conversation and {len(redemptions)} points redemptions waiting for HQ")
    except Exception as e:  # the demo still runs; dealers can file requests from the console
        print(f"warning: could not file the demo requests: {e}", file=sys.stderr)
    finally:
        engine.dispose()


def _inventory_demo(settings: Settings, timeout: float = 300) -> None:
    """First run: a year of sell-through and weekly stock reports, the forecasts fitted, and the daily
    health run for yesterday, as the schedules would: advice on every inventory page."""
    import asyncio
    from datetime import date, datetime, timezone

    from api.inventory.temporal import start_run
    from dealerflow.contracts.inventory import day_of
    from dealerflow.core.temporal import connect
    from dealerflow.inventory import forecast
    from dealerflow.models import InventoryRun
    from launcher.demo import demo_inventory

    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def run() -> InventoryRun:
        client = await connect(settings)
        started = await start_run(client=client, task_queue=settings.task_queue, sessions=sessions, day=None,
                                  region=None, actor="hq", now=datetime.now(timezone.utc))
        deadline = time.monotonic() + timeout
        while True:
            with sessions() as session:
                done = session.get(InventoryRun, (started.day, started.scope))
                if done is not None and done.finished_at is not None:
                    return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"the inventory run of {started.day} did not finish within {timeout:.0f}s")
            await asyncio.sleep(0.3)

    try:
        _step("loading a year of sell-through and weekly stock reports, fitting the forecasts")
        with sessions.begin() as session:
            pairs = demo_inventory(session)["pairs"]
        with sessions.begin() as session:
            fitted = forecast.fit_all(session, day=date.fromisoformat(day_of(datetime.now(timezone.utc))))
        _step(f"  {pairs} dealer × product pairs; {fitted.series} forecasts {fitted.models}")
        done = asyncio.run(run())
        _step(f"  stock health of {done.day}: {done.totals.get('pairs', 0)} pairs, {done.totals.get('advice', 0)}"
              f" pieces of advice, {done.totals.get('red', 0)} red items for the account managers")
    except Exception as e:  # the demo still runs; HQ can start a run from the API
        print(f"warning: could not load the demo stock: {e}", file=sys.stderr)
    finally:
        engine.dispose()

def _wait_for_api(settings: Settings, children, timeout: float = 60) -> None:
    """Wait until the API reports itself healthy; a child that dies meanwhile is caught by the caller."""
    import httpx

    deadline = time.monotonic() + timeout
    url = f"http://{settings.api_host}:{settings.api_port}/api/v1/health"
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            return
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    print(f"warning: {url} is not healthy after {timeout:.0f}s; see {settings.data_dir}/api.log", file=sys.stderr)


def _banner(settings: Settings) -> None:
    from launcher.demo import DEMO_LOGINS

    api = f"http://{settings.api_host}:{settings.api_port}"
    print(f"""
dealerflow is running
  console        {api}/console
  API docs       {api}/docs
  Temporal UI    http://127.0.0.1:{settings.temporal_ui_port}   (filter e.g. Stage="pending_review")
  PostgreSQL     {settings.database_url}
  logs           {settings.data_dir}/api.log, worker.log, temporal.log

demo logins""")
    for username, password, role, note in DEMO_LOGINS:
        print(f"  {username:<10} {password:<12} {role:<15} {note}")
    print("\nCtrl-C stops everything.", flush=True)
