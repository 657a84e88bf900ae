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
