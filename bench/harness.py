"""What the benchmarks share: the embedded stack in a throwaway directory, the product's own worker
and API as child processes, and bounded waits."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.config import Settings  # noqa: E402
from dealerflow.core.runtime import free_port  # noqa: E402
from launcher.processes import spawn, stop  # noqa: E402
from launcher.stack import EmbeddedStack, prepare  # noqa: E402


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(interval)
    return True


class BenchStack:
    """`with BenchStack("bench-x") as bench:` PostgreSQL and Temporal started, migrated, rules
    deployed; `bench.worker()` and `bench.api()` start the product's processes; everything is
    stopped and the directory removed on the way out (kept with `keep=True`)."""

    def __init__(self, task_queue: str, *, keep: bool = False):
        self.data_dir = Path(tempfile.mkdtemp(prefix="dealerflow-bench-"))
        self.stack = EmbeddedStack(self.data_dir, free_port(), None, persistent=False)
        self.task_queue, self.keep = task_queue, keep
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "BenchStack":
        try:
            settings = self.stack.start(Settings.from_env({"DEALERFLOW_DATA_DIR": str(self.data_dir)}))
            self.settings = settings.with_(api_port=free_port(), task_queue=self.task_queue)
            prepare(self.settings)
        except BaseException:
            self.__exit__()
            raise
        return self

    def worker(self) -> subprocess.Popen:
        log_file = self.data_dir / "worker.log"
        proc = self._spawn(["worker"], log_file.name)
        if not wait_until(lambda: log_file.exists() and b"polling" in log_file.read_bytes(), 60):
            raise RuntimeError(f"the worker did not start; see {log_file}")
        return proc

    def api(self) -> subprocess.Popen:
        proc = self._spawn(["api", "--port", str(self.settings.api_port)], "api.log")
        url = f"http://127.0.0.1:{self.settings.api_port}/api/v1/health"
        if not wait_until(lambda: _healthy(url), 60, 0.2):
            raise RuntimeError(f"{url} did not come up")
        return proc

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        proc = spawn(args, self.settings, log_name)
        self.processes.append(proc)
        return proc

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.processes):
            stop(proc)
        self.stack.stop()
        if self.keep:
            print(f"data and logs kept in {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
