"""Child processes of the `dealerflow` command (worker, API), started with the settings they need
and stopped as a group. Used by `dealerflow dev`, the benchmarks and the tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from dealerflow.core.config import Settings


def spawn(args: list[str], settings: Settings, log_name: str) -> subprocess.Popen:
    """`dealerflow ARGS` pointed at the settings' servers, logging to DATA_DIR/LOG_NAME."""
    env = dict(os.environ, DATABASE_URL=settings.database_url, TEMPORAL_ADDRESS=settings.temporal_address,
               DEALERFLOW_SECRET_KEY=settings.secret_key, DEALERFLOW_TASK_QUEUE=settings.task_queue,
               DEALERFLOW_DATA_DIR=str(settings.data_dir))
    out = open(settings.data_dir / log_name, "ab")
    # Own process group: the caller decides when it stops, and stops all of it.
    return subprocess.Popen([sys.executable, "-m", "launcher.main", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a child and what it started (a worker's adviser processes), also when the child itself
    has already exited: what it left in its group goes with it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # nothing left in the group
        pass
    proc.wait()
