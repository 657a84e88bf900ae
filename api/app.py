"""The FastAPI application: JSON API under /api/v1 and the Jinja2 console under /console."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from dealerflow.core.config import Settings
from dealerflow.core.db import make_engine, make_sessionmaker
from dealerflow.core.process import settle_heap
from dealerflow.core.temporal import connect

from api import docs, errors, guards, health, pages
from api.flash import FlashSecret
from api.security import SecurityHeaders, console_csrf
from api.admin import console as admin_console, rules
from api.governance import console as governance_console, routes as governance
from api.masterdata import console as masterdata_console, routes as masterdata
from api.auth import routes as auth
from api.diversion import console as diversion_console, routes as diversion
from api.credit import console as credit_console, routes as credit
from api.failures import console as failures_console, routes as failures
from api.inventory import console as inventory_console, routes as inventory
from api.logistics import console as logistics_console, routes as logistics
from api.orders import console as orders_console, fulfilment, history as order_history, routes as orders
from api.policies import console as policies_console, routes as policies, task_routes as policy_tasks
from api.rebates import console as rebates_console, routes as rebates, settlements, statements
from api.reports import console as reports_console, routes as reports
from api.stock import console as stock_console, routes as stock
from api.care import console as care_console, routes as care
from api.messaging import console as messaging_console, routes as messaging
from api.notifications import console as notify_console, routes as notify_routes
from api.service import console as service_console, routes as service
from api.system import console as system_console
from api.tasks import console as tasks_console, notifications, routes as tasks
from api.tiering import console as tiering_console, routes as tiering

# The JSON API, then the console's pages; each module holds one router.
ROUTERS = (auth, orders, order_history, fulfilment, tasks, policies, policy_tasks, rebates, settlements, statements,
           masterdata, rules, governance, notifications, health, tiering, credit, diversion, failures, reports, stock,
           logistics, service, care, messaging, inventory, docs, pages, tasks_console, orders_console,
           policies_console, rebates_console, tiering_console, credit_console, failures_console, diversion_console,
           inventory_console, reports_console, governance_console, admin_console, masterdata_console, system_console,
           stock_console, logistics_console, service_console, care_console, messaging_console, notify_routes,
           notify_console)

def create_app(settings: Settings | None = None, *, server: bool = False) -> FastAPI:
    """`server`: the app is the long-lived process `dealerflow api` runs (see `serve`)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.temporal = await connect(settings)
        if server:
            settle_heap()
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="dealerflow", version="0.1.0", lifespan=lifespan, dependencies=[Depends(console_csrf)],
                  docs_url=None, redoc_url=None,  # served by api/docs.py with local assets
                  description="Dealer channel management: orders with automatic credit decisions, policies "
                              "rolled out to dealers with acknowledgment and tasks, human approval tasks, YAML rules.")
    errors.install(app)
    app.add_middleware(guards.RefuseNul)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(FlashSecret, secret=settings.secret_key, secure=settings.secure_cookies)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(pages.STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/console")

    return app


def serve() -> FastAPI:
    """The factory `dealerflow api` hands to uvicorn."""
    return create_app(server=True)
