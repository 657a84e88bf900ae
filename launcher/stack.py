"""The embedded stack (PostgreSQL + Temporal dev server) and the steps that make a database and a
namespace ready: migrations, search attributes, rule files. `dealerflow dev` and the test suite
both start servers through here."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from dealerflow import rulebook
from dealerflow.config import Settings
from dealerflow.db import make_engine, make_sessionmaker
from dealerflow.migrate import upgrade
from dealerflow.runtime import EmbeddedPostgres, TemporalDevServer
from dealerflow.temporal import connect, ensure_search_attributes


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
    """Migrate the database, register search attributes, deploy the rule files if they changed."""
    upgrade(settings.database_url)

    async def attributes() -> None:
        await ensure_search_attributes(await connect(settings))

    asyncio.run(attributes())
    if not deploy_rules:
        return []
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with make_sessionmaker(engine).begin() as session:
            return rulebook.deploy_directory(session, settings.rules_dir, actor="system")
    finally:
        engine.dispose()
