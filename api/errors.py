"""Error responses that name the field at fault, e.g. {"field": "lines[1].sku", "message": ...}."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dealerflow.orders import OrderInputError
from policies_dsl import RuleFileError


def field_path(loc) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": "body", "message": f"malformed JSON at character {e['loc'][-1]}: "
                   f"{e.get('ctx', {}).get('error', 'cannot parse')}"} if e["type"] == "json_invalid" else
                  {"field": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(OrderInputError)
    async def _order_input(request: Request, exc: OrderInputError):
        return JSONResponse({"detail": [{"field": exc.field, "message": exc.message}]}, status_code=422)

    @app.exception_handler(RuleFileError)
    async def _rule_file(request: Request, exc: RuleFileError):
        errors = [{"file": e.file, "line": e.line, "path": e.path, "message": e.message, "text": str(e)}
                  for e in exc.errors]
        return JSONResponse({"detail": errors}, status_code=422)
