"""Channel inventory in Temporal: the daily health run (on demand and by its schedule), the weekly
forecast's schedule, and placing a replenishment draft through the order placement of api/orders —
update-with-start of OrderWorkflow, so the draft's order gets its credit decision like any other."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from dealerflow.contracts import REGION, RUN_DATE, STAGE, ForecastInput, InventoryRunInput
from dealerflow.contracts.inventory import ALL_REGIONS, day_of, workflow_id_for
from dealerflow.core.errors import Invalid
from dealerflow.inventory import advice as inventory, replenishment
from dealerflow.models import InventoryRun, User
from api.orders.schemas import OrderCreate, OrderLineIn
from api.orders.temporal import Placed, place_order, start_order
from api.temporal_calls import ensure_schedule, unavailable
from workflows import ForecastWorkflow, InventoryHealthWorkflow

HEALTH_SCHEDULE = "inventory-daily"
FORECAST_SCHEDULE = "forecast-weekly"
# 06:00 China time (22:00 UTC the day before): yesterday's figures are in before the working day.
DAILY_AT = ScheduleCalendarSpec(hour=(ScheduleRange(22),))
WEEKLY_AT = ScheduleCalendarSpec(day_of_week=(ScheduleRange(0),), hour=(ScheduleRange(20),))  # Monday 04:00 China


@dataclass
class RunStarted:
    day: date
    scope: str
    workflow_id: str
    action: str  # started | existing


def run_attributes(day: str, scope: str) -> TypedSearchAttributes:
    at = datetime.fromisoformat(day).replace(tzinfo=timezone(timedelta(hours=8)))
    return TypedSearchAttributes([Pair(RUN_DATE, at), Pair(REGION, scope), Pair(STAGE, "starting")])


async def start_run(*, client: Client, task_queue: str, sessions: sessionmaker[Session], day: date | None,
                    region: str | None, actor: str, now: datetime) -> RunStarted:
    """Measure a day (default yesterday, China): a day asked for twice runs once."""
    wanted = day or date.fromisoformat(day_of(now, days_back=1))
    if wanted > date.fromisoformat(day_of(now)):
        raise Invalid(f"{wanted.isoformat()} has not come yet", field="day")
    scope = inventory.scope_of(region)

    def check() -> bool:
        with sessions() as session:
            inventory.ruleset(session)
            run = session.get(InventoryRun, (wanted, scope))
            return run is not None and run.finished_at is not None

    try:
        existed = await run_in_threadpool(check)
    except inventory.InventoryError as e:
        raise Invalid(str(e), field="day") from None
    wid = workflow_id_for(wanted.isoformat(), scope)
    if not existed:
        try:
            await client.start_workflow(
                InventoryHealthWorkflow.run, InventoryRunInput(wanted.isoformat(), region, actor), id=wid,
                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=run_attributes(wanted.isoformat(), scope))
        except WorkflowAlreadyStartedError:
            existed = True
        except RPCError as e:
            raise unavailable(e) from None
    return RunStarted(wanted, scope, wid, "existing" if existed else "started")


async def sync_inventory_schedules(*, client: Client, sessions: sessionmaker[Session], task_queue: str) -> bool:
    """The daily health run and the weekly forecast, once an inventory file is deployed."""
    def deployed() -> bool:
        with sessions() as session:
            try:
                inventory.ruleset(session)
                return True
            except inventory.InventoryError:
                return False

    if not await run_in_threadpool(deployed):
        return False
    daily = Schedule(
        action=ScheduleActionStartWorkflow(
            InventoryHealthWorkflow.run, InventoryRunInput(), id="inventory-scheduled", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled"), Pair(REGION, ALL_REGIONS)])),
        spec=ScheduleSpec(calendars=[DAILY_AT]), policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, HEALTH_SCHEDULE, daily)
    weekly = Schedule(
        action=ScheduleActionStartWorkflow(
            ForecastWorkflow.run, ForecastInput(), id="forecast-scheduled", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(calendars=[WEEKLY_AT]), policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, FORECAST_SCHEDULE, weekly)
    return True


async def place_draft(*, client: Client, task_queue: str, sessions: sessionmaker[Session], user: User,
                      draft_id, quantities: dict | None, now: datetime) -> Placed:
    """The dealer places its draft as any order is placed: priced, its credit and stock decided in one
    transaction, then its workflow started; the draft's id is the Idempotency-Key, so placing it
    twice places one order."""
    def lines():
        with sessions() as session:
            d = replenishment.get(session, draft_id, {user.dealer_id})
            return replenishment.lines_for_order(d, quantities)

    body = OrderCreate(lines=[OrderLineIn(sku=sku, quantity=q) for sku, q in await run_in_threadpool(lines)])
    placed = await place_order(sessions=sessions, user=user, body=body,
                               idempotency_key=replenishment.idempotency_key(draft_id))
    if placed.start is not None:  # decided and stored; the order's workflow goes on without the dealer
        await start_order(client=client, task_queue=task_queue, sessions=sessions, start=placed.start)

    def mark():
        with sessions.begin() as session:
            replenishment.mark_placed(session, draft_id=draft_id, order_id=placed.order.id, actor=user.username,
                                      now=now)

    await run_in_threadpool(mark)
    return placed
