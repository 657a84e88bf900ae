"""Browser tests: the console served by uvicorn on the test stack (real PostgreSQL, Temporal and a
worker) and driven in headless Chromium (Debian's package) through Playwright, on a desktop and on a
390×844 phone, in zh-CN and English."""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from dealerflow.core.runtime import free_port

from ..support import PASSWORD

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


@dataclass
class Visit:
    """A person's browser tab: the page, and the errors its scripts reported."""
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def fits(self) -> bool:
        """No horizontal scrolling: the page is no wider than the screen."""
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.fixture
def visit(browser, live_server):
    contexts = []

    def open_(username: str | None, *, phone: bool = False, locale: str = "zh-CN") -> Visit:
        context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale},
                                      **(PHONE if phone else DESKTOP))
        contexts.append(context)
        v = Visit(context.new_page(), live_server)
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
