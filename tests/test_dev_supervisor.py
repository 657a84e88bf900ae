"""`dealerflow dev` as a process supervisor: it restarts a crashed worker or API, and a stop signal
sent to its whole process group (a supervisor, `kill -- -PGID`, make) leaves no server behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from dealerflow.core.config import ROOT
from dealerflow.core.runtime import free_port


class Dev:
    """`dealerflow dev --no-seed` in its own process group, data directory and ports."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.api_port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
        env.update(DEALERFLOW_DATA_DIR=str(data_dir), DEALERFLOW_API_PORT=str(self.api_port),
                   DEALERFLOW_TEMPORAL_PORT=str(free_port()), DEALERFLOW_TEMPORAL_UI_PORT=str(free_port()))
        self.out = data_dir / "dev.out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "launcher.main", "dev", "--no-seed"], cwd=ROOT,
                                         env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.seen: set[int] = set()  # every pid that belonged to this dev, for the final check

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.api_port}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"dealerflow dev exited ({self.proc.returncode}):\n{self.output()}"
            assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s:\n{self.output()}"
            time.sleep(0.2)

    def processes(self) -> dict[str, psutil.Process]:
        """The children by role (worker, api, temporal, postgres), remembered for `leftovers`."""
        found = {}
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                cmd = p.cmdline() if p.status() != psutil.STATUS_ZOMBIE else []
            except psutil.Error:  # exited meanwhile (a crashed child, a short-lived pg_ctl)
                continue
            if cmd:
                found[cmd[3] if cmd[1:3] == ["-m", "launcher.main"] else Path(cmd[0]).name] = p
        # pg_ctl detaches the postmaster: it is no child of ours, its pid is in the data directory.
        pid_file = self.data_dir / "pg" / "postmaster.pid"
        if pid_file.exists():
            found["postgres"] = psutil.Process(int(pid_file.read_text().split()[0]))
            self.seen.update(p.pid for p in found["postgres"].children(recursive=True))
        self.seen.update(p.pid for p in found.values())
        return found

    def leftovers(self) -> list[str]:
        alive = []
        for pid in self.seen:
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {' '.join(p.cmdline())[:80]}")
            except psutil.NoSuchProcess:
                pass
        for p in psutil.process_iter():
            try:
                if p.pid != self.proc.pid and os.getpgid(p.pid) == self.proc.pid:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:80]} (in the process group)")
            except (psutil.Error, ProcessLookupError):
                pass
        return alive

    def kill_everything(self) -> None:
        """Whatever a failed test left: the group, then every pid ever seen (each leads its own group)."""
        for pgid in [self.proc.pid, *self.seen]:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def dev(tmp_path):
    d = Dev(tmp_path)
    try:
        d.wait_until(d.healthy, 90, "the API did not answer")
        d.wait_until(lambda: "Ctrl-C stops everything" in d.output(), 30, "no banner")
        d.processes()
        yield d
    finally:
        d.kill_everything()


def test_a_crashed_worker_is_restarted_and_the_api_keeps_answering(dev):
    worker = dev.processes()["worker"]
    worker.kill()
    dev.wait_until(lambda: "worker exited (code -9); restarting (1/5)" in dev.output(), 15, "no restart message")
    dev.wait_until(lambda: dev.processes().get("worker") not in (None, worker), 15, "no new worker")
    assert dev.healthy()
    new = dev.processes()["worker"]
    polling = lambda: (dev.data_dir / "worker.log").read_text(errors="replace").count("worker polling task queue")
    dev.wait_until(lambda: polling() >= 2, 30, "the new worker did not reach Temporal")  # the first one's, then its
    assert new.is_running() and dev.processes()["worker"].pid == new.pid, dev.output()

    os.killpg(dev.proc.pid, signal.SIGTERM)
    assert dev.proc.wait(60) == 0, dev.output()
    assert "stopped: no process left behind" in dev.output()
    assert dev.leftovers() == []


def test_repeated_sigterm_to_the_process_group_stops_every_child(dev):
    assert set(dev.processes()) >= {"worker", "api", "temporal", "postgres"}
    started = time.monotonic()
    # What a supervisor or make does: signal the group, and again while it stops. A burst of
    # signals makes sure one lands while the cleanup begins.
    os.killpg(dev.proc.pid, signal.SIGTERM)
    burst_until = time.monotonic() + 0.3
    while time.monotonic() < burst_until:
        os.killpg(dev.proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    try:
        os.killpg(dev.proc.pid, signal.SIGTERM)
    except ProcessLookupError:  # already stopped
        pass
    code = dev.proc.wait(60)
    took = time.monotonic() - started
    deadline = time.monotonic() + 5  # a stopped child may still be exiting
    while dev.leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dev.leftovers() == [], dev.output()
    assert code == 0 and "stopped: no process left behind" in dev.output(), dev.output()
    assert took < 30
