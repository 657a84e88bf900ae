"""Text PostgreSQL cannot store is refused at the door: a NUL character (U+0000) in the path, a query
parameter, a header, a JSON body or a form is a 422 naming where it is, before any route runs.

Bodies are checked when they are JSON (NDJSON: its escapes, by line) or a URL-encoded form (read whole by
their routes anyway, up to SCAN_LIMIT; a larger body passes on unchecked, for its route to refuse by size).
A raw NUL byte in CSV or YAML is left to the route, which refuses binary content (415) or unreadable text. Multipart bodies carry
files, where NUL bytes are ordinary; their text fields are covered by the database's own refusal, which
api.errors maps to the same 422."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from api.errors import problem

NUL_MESSAGE = "must not contain the NUL character (U+0000)"
SCAN_LIMIT = 32 * 1024 * 1024
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")
TEXT_TYPES = ("application/json", *NDJSON_TYPES, "text/plain", "text/csv", "application/csv", "application/yaml",
              "application/x-yaml", "text/yaml", "text/x-yaml")
FORM = "application/x-www-form-urlencoded"
# \u0000 (in any case) after an even number of backslashes: an escape, not an escaped backslash.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _refusal(errors: list[dict]) -> "problem":
    first = errors[0]
    return problem(422, f"{first['field']}: {first['message']}", errors)


def _query_errors(raw: bytes) -> list[dict]:
    if b"\x00" not in raw and b"%00" not in raw:
        return []
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    names = sorted({k.replace("\x00", "\\u0000") for k, v in pairs if "\x00" in k or "\x00" in v})
    return [{"field": name, "message": NUL_MESSAGE} for name in names] or [{"field": "query", "message": NUL_MESSAGE}]


def _nul_path(value, path: str = "") -> str | None:
    """Where in a parsed JSON document the first NUL is (`lines[0].sku`), or None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{path}.{key}" if path else key
        where = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        found = _nul_path(item, where)
        if found:
            return found
    return None


def _body_errors(media_type: str, body: bytes) -> list[dict]:
    if media_type == FORM:
        if b"\x00" in body or b"%00" in body:
            return _query_errors(body)
        return []
    if b"\x00" in body and media_type == "application/json":  # raw: never valid JSON
        return [{"field": "body", "message": NUL_MESSAGE}]
    if media_type == "application/json" and _JSON_NUL.search(body):
        try:
            where = _nul_path(json.loads(body))
        except (ValueError, RecursionError):
            where = None  # malformed: its route says where
        return [{"field": where, "message": NUL_MESSAGE}] if where else []
    if media_type in NDJSON_TYPES and _JSON_NUL.search(body):  # the line is named
        line = body[:_JSON_NUL.search(body).start()].count(b"\n") + 1
        return [{"field": "body", "line": line, "message": NUL_MESSAGE}]
    return []


class RefuseNul:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        errors = []
        if "\x00" in scope["path"] or b"%00" in scope.get("raw_path", b""):
            errors.append({"field": "path", "message": NUL_MESSAGE})
        errors += _query_errors(scope.get("query_string", b""))
        errors += [{"field": f"header {name.decode('latin-1')}", "message": NUL_MESSAGE}
                   for name, value in scope["headers"] if b"\x00" in value or b"\x00" in name]
        if errors:
            return await _refusal(errors)(scope, receive, send)
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        if media_type not in (*TEXT_TYPES, FORM) or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        try:
            declared = int(headers.get(b"content-length") or 0)
        except ValueError:
            declared = 0
        if declared > SCAN_LIMIT:
            return await self.app(scope, receive, send)
        # Read the body (up to SCAN_LIMIT), check it, then hand the same messages on to the route.
        messages, size, more = [], 0, True
        while more and size <= SCAN_LIMIT:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        if not more and messages and messages[-1]["type"] == "http.request":
            body = b"".join(m.get("body", b"") for m in messages)
            errors = _body_errors(media_type, body)
            if errors:
                return await _refusal(errors)(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)
