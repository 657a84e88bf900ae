"""The FastAPI application: JSON API under /api/v1 and the Jinja2 console under /console."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from dealerflow.config import Settings
from dealerflow.db import make_engine, make_sessionmaker
from dealerflow.temporal import connect

from . import errors
from .console import router as console_router, STATIC_DIR
from .console_policies import router as console_policies_router
from .console_rebates import router as console_rebates_router
from .console_tiering import router as console_tiering_router
from .routes import admin, auth, fulfilment, health, notifications, orders, policies, policy_tasks, rebates, rules, \
    settlements, statements, tasks
from .routes import diversion as diversion_routes, tiering as tiering_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.temporal = await connect(settings)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="dealerflow", version="0.1.0", lifespan=lifespan,
                  description="Dealer channel management: orders with automatic credit decisions, policies "
                              "rolled out to dealers with acknowledgment and tasks, human approval tasks, YAML rules.")
    errors.install(app)
    for module in (auth, orders, fulfilment, tasks, policies, policy_tasks, rebates, settlements, statements, admin,
                   rules, notifications, health):
        app.include_router(module.router)
    app.include_router(tiering_routes.router)
    app.include_router(diversion_routes.router)
    app.include_router(console_router)
    app.include_router(console_policies_router)
    app.include_router(console_rebates_router)
    app.include_router(console_tiering_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/console")

    return app
