"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with their assets served from
/static/docs/ (pinned versions: api/static/docs/README.md): nothing is loaded from a CDN.

Swagger UI is started by the inline script FastAPI's page carries; that script is the same on every
response, so the Content-Security-Policy of the docs allows it by its hash (DOCS_SCRIPT_HASHES, read by
api/security.py) rather than allowing inline scripts."""
from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

ASSETS = "/static/docs"
SWAGGER_UI_VERSION, REDOC_VERSION = "5.35.0", "2.5.2"
OPENAPI_URL, OAUTH2_REDIRECT_URL = "/openapi.json", "/docs/oauth2-redirect"
TITLE = "dealerflow"

router = APIRouter(include_in_schema=False)


def swagger_page():
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL, title=f"{TITLE} - Swagger UI", oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from validator.swagger.io


def redoc_page():
    return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{TITLE} - ReDoc", redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS}/favicon-32x32.png", with_google_fonts=False)


@router.get("/docs")
def swagger():
    return swagger_page()


@router.get(OAUTH2_REDIRECT_URL)
def swagger_oauth2_redirect():
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc():
    return redoc_page()


def _inline(html: bytes, tag: str) -> list[str]:
    """The CSP hashes of a page's inline <script> elements (those without src)."""
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html.decode(), re.S)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies]


# The pages do not depend on the request: their inline code is hashed once.
DOCS_SCRIPT_HASHES = tuple(_inline(swagger_page().body, "script") + _inline(get_swagger_ui_oauth2_redirect_html().body, "script"))
