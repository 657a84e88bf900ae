"""Schema migrations (Alembic), applied by `dealerflow migrate`, `dealerflow dev` and the tests."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from dealerflow.core.config import ROOT
from dealerflow.core.db import make_engine


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", make_engine(url).url.render_as_string(hide_password=False)
                        .replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    # One migrator at a time when several processes start together.
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        conn.execute(text("select pg_advisory_lock(hashtext('dealerflow:migrate'))"))
        try:
            command.upgrade(alembic_config(url), "head")
        finally:
            conn.execute(text("select pg_advisory_unlock(hashtext('dealerflow:migrate'))"))
    engine.dispose()
