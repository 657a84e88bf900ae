"""Helpers the tests share (fixtures live in conftest.py)."""
from __future__ import annotations

import threading
from typing import Callable

PASSWORD = "correct-horse-9"


def wait_until(predicate: Callable[[], object], timeout: float = 20, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        threading.Event().wait(interval)


def send_csrf(client) -> str:
    """Make `client` act as the console's pages do: fetch the CSRF cookie (from the login page) and
    send its current value with every request (header X-CSRF-Token), as a form's hidden field would."""
    if "dealerflow_csrf" not in client.cookies:
        client.get("/console/login")

    def add(request):
        token = client.cookies.get("dealerflow_csrf")
        if token:
            request.headers["X-CSRF-Token"] = token

    if add.__qualname__ not in {getattr(h, "__qualname__", "") for h in client.event_hooks["request"]}:
        client.event_hooks["request"] = [*client.event_hooks["request"], add]
    return client.cookies["dealerflow_csrf"]
