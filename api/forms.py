"""The console's forms: a request model from a form's fields, each field's message from a refusal, the
page numbers of a list, redirects with a query. Shared by every page with a form."""
from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from dealerflow.core.errors import DomainError

from api.pages import back

PAGE_SIZE = 50


def field_errors(e: Exception) -> dict[str, str]:
    """The message of each form field at fault, from a pydantic or a domain refusal."""
    if isinstance(e, ValidationError):
        return {str(x["loc"][0]) if x["loc"] else "": x["msg"] for x in reversed(e.errors())}
    if isinstance(e, DomainError):
        return {x["field"]: x["message"] for x in reversed(e.errors) if x.get("field")}
    return {}


def model(model: type[BaseModel], form: dict, *, nullable=(), numbers=(), lists=(), flags=()) -> BaseModel:
    """A request model from a form: an empty optional field is none, a numeric choice a number, a
    list field split at commas, a flag field true when "true" or "on"."""
    data = {}
    for name in model.model_fields:
        if name not in form:
            continue
        value = form[name].strip() if isinstance(form[name], str) else form[name]
        if value == "" and name in nullable:
            value = None
        elif name in numbers and isinstance(value, str) and value.isdigit():
            value = int(value)
        elif name in lists and isinstance(value, str):
            value = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
        elif name in flags and isinstance(value, str):
            value = value in ("true", "on", "1")
        data[name] = value
    return model.model_validate(data)


async def read_form(request: Request) -> dict:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def pages(total: int, number: int) -> dict:
    return {"number": number, "count": max(1, math.ceil(total / PAGE_SIZE)), "total": total}


def query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def see(path: str, **params) -> RedirectResponse:
    """`back` to a page with a query."""
    response = back(path)
    if any(v not in (None, "") for v in params.values()):
        response.headers["location"] += "?" + query(**params)
    return response
