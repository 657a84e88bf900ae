"""Every error the API answers, in one shape (RFC 9457 `application/problem+json`):

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "lines[1].sku: unknown sku 'X'", "errors": [{"field": "lines[1].sku", "message": "unknown sku 'X'"}]}

`detail` is one sentence for a person; `errors` lists each place at fault (`field`, `line`, `index`…)
with its message. Domain errors (dealerflow.core.errors) are mapped here, once, to their status."""
from __future__ import annotations

from http import HTTPStatus

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealerflow.core.errors import DomainError
from policies_dsl import RuleFileError

log = logging.getLogger(__name__)
STATUS = {"invalid": 422, "unauthenticated": 401, "not_found": 404, "conflict": 409, "forbidden": 403,
          "too_large": 413, "unsupported": 415, "too_many_attempts": 429, "unavailable": 503}
PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """The body of every error response."""
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict] = Field(default=[], description="each place at fault: `field` (or `line`, `index`…) "
                                                       "and `message`")


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


def _wants_page(request: Request) -> bool:
    """A browser on a console page: it is answered an HTML page in its language, not problem+json."""
    return request.url.path.startswith("/console") and "text/html" in request.headers.get("accept", "")


def _page(request: Request, status: int, detail: str, headers: dict | None = None):
    from api.pages import error_page  # the console's templates; imported late (pages imports this module)
    return error_page(request, status, detail, headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        if _wants_page(request):
            return await run_in_threadpool(_page, request, STATUS[exc.kind], exc.message, headers)
        return problem(STATUS[exc.kind], exc.message, exc.errors, headers=headers)

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
        if exc.status_code >= 400 and _wants_page(request):
            return await run_in_threadpool(_page, request, exc.status_code, detail, getattr(exc, "headers", None))
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError):
        # The database driver refuses text with NUL where no earlier check could see it (a multipart
        # form's text field): nothing was written, the request is at fault.
        if "NUL (0x00)" in str(exc):
            return problem(422, "text must not contain the NUL character (U+0000)",
                           [{"field": "body", "message": "must not contain the NUL character (U+0000)"}])
        return await _unexpected(request, exc)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError):
        return problem(422, "the body is nested too deeply", [{"field": "body", "message": "nested too deeply"}])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # A defect, not the caller's fault: logged with its traceback, answered without internals.
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "an unexpected error occurred; it has been logged")

    document(app)


# --- the OpenAPI schema: every operation declares the errors it can answer, in the one shape --------

def _calls(dependant) -> set:
    out = {dependant.call}
    for sub in dependant.dependencies:
        out |= _calls(sub)
    return out


def _api_routes(app: FastAPI) -> list:
    """The API routes with their path as mounted (FastAPI ≥ 0.16x keeps included routers whole)."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is None:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c for c in contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def _problem_response(status: int) -> dict:
    return {"description": HTTPStatus(status).phrase,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document(app: FastAPI) -> None:
    """Replace FastAPI's default 422 (HTTPValidationError) by `Problem`, and declare on every operation
    the errors common to its kind: 422 (bad input), 400 (a body that cannot be parsed), 401 and 403
    (an authenticated route: no or a bad token; a role refused), 404 (a path naming something), 503
    (Temporal unreachable). Errors particular to a route (409, 413, 415…) are declared on it."""
    from api.deps import get_current_user, get_temporal  # the dependencies that can refuse a request

    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        routes = {(r.path_format, m.lower()): r for r in _api_routes(app) for m in r.methods}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                route = routes.get((path, method))
                calls = _calls(route.dependant) if route else set()
                statuses = {422}
                if "requestBody" in operation:
                    statuses.add(400)
                if get_current_user in calls:
                    statuses |= {401, 403}
                if "{" in path:
                    statuses.add(404)
                if get_temporal in calls:
                    statuses.add(503)
                responses = operation.setdefault("responses", {})
                responses["422"] = _problem_response(422)
                for status in sorted(statuses):
                    responses.setdefault(str(status), _problem_response(status))
                for status, response in responses.items():  # errors answer problem+json only
                    if status[0] in "45" and PROBLEM in response.get("content", {}):
                        response["content"] = {PROBLEM: response["content"][PROBLEM]}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
