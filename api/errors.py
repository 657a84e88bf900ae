"""Every error the API answers, in one shape (RFC 9457 `application/problem+json`):

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "lines[1].sku: unknown sku 'X'", "errors": [{"field": "lines[1].sku", "message": "unknown sku 'X'"}]}

`detail` is one sentence for a person; `errors` lists each place at fault (`field`, `line`, `index`…)
with its message. Domain errors (dealerflow.core.errors) are mapped here, once, to their status."""
from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealerflow.core.errors import DomainError
from policies_dsl import RuleFileError

STATUS = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403, "too_large": 413,
          "unsupported": 415, "too_many_attempts": 429, "unavailable": 503}
PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """The body of every error response."""
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict] = []


def problem(status: int, detail: str, errors: list[dict] | None = None, headers: dict | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM, headers=headers)


def responses(*statuses: int) -> dict:
    """The error responses a route declares in the OpenAPI schema."""
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase,
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}} for s in statuses}


def field_path(loc) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _summary(errors: list[dict], fallback: str) -> str:
    if not errors:
        return fallback
    first = errors[0]
    place = first.get("field") or (f"line {first['line']}" if first.get("line") else None)
    text = f"{place}: {first['message']}" if place else first["message"]
    return text + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        retry = getattr(exc, "retry_after", None)
        return problem(STATUS[exc.kind], exc.message, exc.errors,
                       headers={"Retry-After": str(retry)} if retry is not None else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": "body", "message": f"malformed JSON at character {e['loc'][-1]}: "
                   f"{e.get('ctx', {}).get('error', 'cannot parse')}"} if e["type"] == "json_invalid" else
                  {"field": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return problem(422, _summary(errors, "the request is not valid"), errors)

    @app.exception_handler(RuleFileError)
    async def _rule_file(request: Request, exc: RuleFileError):
        errors = [{"file": e.file, "line": e.line, "path": e.path, "message": e.message, "text": str(e)}
                  for e in exc.errors]
        return problem(422, errors[0]["text"] if errors else "the rule file is not valid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        # Raised by the framework (404 of an unknown path, 405) and by authentication (401).
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))
