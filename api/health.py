from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1", tags=["health"])


class Health(BaseModel):
    status: str  # ok | degraded
    database: str  # ok | error: <its class>
    temporal: str


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "degraded"}})
async def health(request: Request):
    """Reports the database and Temporal; 503 when either is down."""
    state = request.app.state

    def db() -> str:
        with state.sessions() as session:
            session.execute(text("select 1"))
        return "ok"

    report = {}
    try:
        report["database"] = await run_in_threadpool(db)
    except Exception as e:
        report["database"] = f"error: {e.__class__.__name__}"
    try:
        await asyncio.wait_for(state.temporal.service_client.check_health(), timeout=3)
        report["temporal"] = "ok"
    except Exception as e:
        report["temporal"] = f"error: {e.__class__.__name__}"
    ok = all(v == "ok" for v in report.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **report}, status_code=200 if ok else 503)
