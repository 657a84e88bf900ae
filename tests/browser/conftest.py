"""Browser tests: the console served by uvicorn on the test stack (real PostgreSQL, Temporal and a
worker) and driven in headless Chromium (Debian's package) through Playwright, on a desktop
(1280×800) and on a 390×844 phone, in zh-CN and English.

Running them
    make test                      # everything; installs Chromium with apt-get when it is missing (as root)
    .venv/bin/python -m pytest tests/browser          # these alone (after `make install`)
    .venv/bin/python -m pytest tests/browser -k dealer  # one journey

They need `/usr/bin/chromium` (`apt-get install chromium`; Playwright's own browser download is not
used) and the Python packages of `.[dev]` (playwright, axe-playwright-python). Each journey sets its
data up once (through the API or the database) and then visits its pages in the four combinations
of size and language (`MATRIX`): on every page `Visit.check` asserts the language of `<html lang>`
and of the navigation, no console error (a Content-Security-Policy violation is one), and on a phone
no sideways scrolling and touch targets at least 44 px high. `test_accessibility.py` runs axe-core on
each role's start page. The `browser` fixture is module-scoped and closes with its module: Playwright's
sync API keeps an event loop running in the main thread while it is open, and tests after it call
asyncio.run."""
from __future__ import annotations

import shutil
import threading
import time

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from api.app import create_app
from dealerflow.core.runtime import free_port

from ..support import PASSWORD
from .browsing import Visit

# As a root user in a sandbox, with no network beyond loopback: no sandbox, no background calls home.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("the browser tests need Chromium: `apt-get install chromium` (make test installs it as root)")
    return path


@pytest.fixture(scope="module")
def browser(stack_settings) -> Browser:
    # Playwright's sync API runs an event loop in this thread while it is open: the stack starts
    # before it (asyncio.run), and it closes with the module so that tests after it may run their own.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live_server(settings, worker) -> str:
    """The API and console on a port of their own, served by uvicorn as in production."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)


@pytest.fixture
def visit(browser, live_server):
    contexts = []

    def open_(username: str | None, *, phone: bool = False, locale: str = "zh-CN") -> Visit:
        context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale},
                                      **(PHONE if phone else DESKTOP))
        contexts.append(context)
        v = Visit(context.new_page(), live_server, phone=phone, locale=locale)
        v.page.on("console", lambda m: m.type == "error" and v.errors.append(m.text))
        v.page.on("pageerror", lambda e: v.errors.append(str(e)))
        if username:
            v.go("/console/login")
            v.page.fill("input[name=username]", username)
            v.page.fill("input[name=password]", PASSWORD)
            v.page.locator("form[action='/console/login'] button[type=submit]").click()
            v.page.wait_for_url(lambda url: "/console/login" not in url)
        return v

    yield open_
    for c in contexts:
        c.close()
