"""The embedded stack (PostgreSQL + Temporal dev server) and the steps that make a database and a
namespace ready: migrations, search attributes, rule files. `dealerflow dev` and the test suite
both start servers through here."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from dealerflow.shared import rulebook
from dealerflow.core.config import Settings
from dealerflow.core.db import make_engine, make_sessionmaker
from dealerflow.core.migrate import upgrade
from dealerflow.core.runtime import EmbeddedPostgres, TemporalDevServer
from dealerflow.core.temporal import connect, ensure_search_attributes


@dataclass
class EmbeddedStack:
    data_dir: Path
    temporal_port: int
    temporal_ui_port: int | None
    persistent: bool = True  # keep Temporal's state in a file under data_dir
    postgres: EmbeddedPostgres = field(init=False)
    temporal: TemporalDevServer = field(init=False)

    def __post_init__(self) -> None:
        self.postgres = EmbeddedPostgres(self.data_dir / "pg")
        self.temporal = TemporalDevServer(
            port=self.temporal_port, ui_port=self.temporal_ui_port,
            db_file=self.data_dir / "temporal.db" if self.persistent else None,
            log_file=self.data_dir / "temporal.log")

    def start(self, settings: Settings) -> Settings:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = self.postgres.start()
        try:
            address = self.temporal.start()
        except BaseException:
            self.postgres.stop()
            raise
        return settings.with_(database_url=url, temporal_address=address)

    def stop(self) -> None:
        try:
            self.temporal.stop()
        finally:
            self.postgres.stop()


def prepare(settings: Settings, *, deploy_rules: bool = True) -> list[rulebook.Deployed]:
    """Migrate the database, register search attributes, deploy the rule files if they changed and
    keep each rebate program's settlement schedule, the monthly re-tiering and credit scoring schedules, the hourly
    diversion sweep, the order and rule proposal sweeps, the tracking poll and the notification dispatch."""
    from api.diversion.temporal import sync_diversion_schedule
    from api.logistics.temporal import sync_poll_schedule
    from api.orders.temporal import sync_order_schedule
    from api.governance.temporal import sync_proposal_schedule
    from api.rebates.temporal import sync_rebate_schedules
    from api.credit.temporal import sync_credit_schedule
    from api.service.temporal import sync_service_schedule
    from api.tiering.temporal import sync_tiering_schedule
    from api.inventory.temporal import sync_inventory_schedules
    from api.notifications.temporal import sync_dispatch_schedule

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)

    async def temporal() -> None:
        client = await connect(settings)
        await ensure_search_attributes(client)
        if deploy_rules:
            await sync_rebate_schedules(client=client, sessions=sessions, task_queue=settings.task_queue)
            await sync_tiering_schedule(client=client, sessions=sessions, task_queue=settings.task_queue)
            await sync_credit_schedule(client=client, sessions=sessions, task_queue=settings.task_queue)
            await sync_diversion_schedule(client=client, task_queue=settings.task_queue)
            await sync_poll_schedule(client=client, task_queue=settings.task_queue)
            await sync_service_schedule(client=client, task_queue=settings.task_queue)
            await sync_inventory_schedules(client=client, sessions=sessions, task_queue=settings.task_queue)
        await sync_order_schedule(client=client, task_queue=settings.task_queue)
        await sync_dispatch_schedule(client=client, task_queue=settings.task_queue)
        await sync_proposal_schedule(client=client, task_queue=settings.task_queue)

    try:
        deployed = []
        if deploy_rules:
            with sessions.begin() as session:
                deployed = rulebook.deploy_directory(session, settings.rules_dir, actor="system")
        asyncio.run(temporal())
        return deployed
    finally:
        engine.dispose()
