"""Order placement over HTTP at 1 and 20 concurrent clients, on the embedded PostgreSQL and Temporal
dev server with a real worker and API process; and, in the same run, the rate at which the same
Temporal server starts a bare workflow: the ceiling of a workflow-per-order design on this machine.

The API answers an order from its database transaction and starts the order's workflow after the
answer; the rate at 20 clients counts until every order's workflow has started (the outbox is empty),
so a backlog of starts is not hidden.

    .venv/bin/python bench/order_placement.py [--orders 300] [--clients 20] [--scale 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import aiohttp
import httpx
import psutil
from sqlalchemy import func, insert, select
from temporalio import workflow
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.config import Settings  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.models import Dealer, PendingOrderStart, Product, User  # noqa: E402
from dealerflow.core.runtime import free_port  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from launcher.processes import spawn, stop  # noqa: E402
from launcher.stack import EmbeddedStack, prepare  # noqa: E402


@workflow.defn(sandboxed=False)
class BareWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_data(settings: Settings, dealers: int) -> list[str]:
    """Dealers rated A with room for every order, one product; returns bearer tokens."""
    sessions = make_sessionmaker(make_engine(settings.database_url))
    pw = hash_password("bench-password")
    tokens = []
    with sessions.begin() as s:
        s.execute(insert(Product).values(sku="BENCH-DOOR", name="Bench door", category="door",
                                         unit_price=Decimal("100.00")))
        for i in range(dealers):
            code = f"B{i:04d}"
            dealer_id = s.execute(insert(Dealer).values(
                code=code, name=f"Bench dealer {i}", region="east", level=1, tier="core",
                credit_limit=Decimal("100000000.00"), outstanding=Decimal("0"), rating="A", overdue_days=0)
                .returning(Dealer.id)).scalar_one()
            s.execute(insert(User).values(username=code.lower(), password_hash=pw, role="dealer", dealer_id=dealer_id))
            tokens.append(issue_token(username=code.lower(), role="dealer", secret=settings.secret_key, minutes=120))
    return tokens


async def place(http: aiohttp.ClientSession, token: str) -> float:
    started = time.perf_counter()
    async with http.post("/api/v1/orders", json={"lines": [{"sku": "BENCH-DOOR", "quantity": 1}]},
                         headers={"Authorization": f"Bearer {token}"}) as r:
        body = await r.json()
    elapsed = time.perf_counter() - started
    if r.status != 201 or body["status"] != "approved":
        raise RuntimeError(f"unexpected response {r.status}: {str(body)[:300]}")
    return elapsed


async def run_clients(base: str, tokens: list[str], clients: int, orders: int) -> dict:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(orders):
        queue.put_nowait(i)

    async def client(n: int, http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            latencies.append(await place(http, tokens[(n + i) % len(tokens)]))

    # The load comes from this process on the same two cores, so it must be light (aiohttp costs it
    # a fraction of httpx's CPU per request), and every client is made before the clock starts:
    # made inside the run, they held up the answers of the clients already running, counted as the
    # server's latency.
    https = [aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=60)) for _ in range(clients)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(n, http) for n, http in enumerate(https)))
        wall = time.perf_counter() - started
    finally:
        for http in https:
            await http.close()
    return {"orders/s": orders / wall, "p50 ms": percentile(latencies, 50) * 1000,
            "p99 ms": percentile(latencies, 99) * 1000}


async def health_latency(base: str, count: int) -> float:
    """p50 of the health endpoint, one client: what any request costs on this machine now."""
    latencies = []
    async with aiohttp.ClientSession(base, raise_for_status=True) as http:
        for _ in range(count):
            started = time.perf_counter()
            async with http.get("/api/v1/health") as r:
                await r.read()
            latencies.append(time.perf_counter() - started)
    return percentile(latencies, 50) * 1000


async def bare_start_rate(settings: Settings, count: int, concurrency: int) -> float:
    client = await connect(settings)
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow]):
        sem = asyncio.Semaphore(concurrency)

        async def start(i: int) -> None:
            async with sem:
                await client.start_workflow(BareWorkflow.run, id=f"bare-{queue}-{i}", task_queue=queue)

        started = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(count)))
        return count / (time.perf_counter() - started)


def cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each part of the stack: its processes alive now plus
    the children they have reaped, so PostgreSQL backends that came or went in between count too."""
    out = {}
    for name, pids in roots.items():
        total = 0.0
        for root in map(psutil.Process, pids):
            t = root.cpu_times()
            total += t.children_user + t.children_system
            for p in [root, *root.children(recursive=True)]:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        out[name] = total
    return out


def stack_processes(children, stack) -> dict[str, list[int]]:
    return {"api": [children[1].pid], "worker": [children[0].pid], "temporal": [stack.temporal.proc.pid],
            "postgres": [stack.postgres._server.get_pid()]}


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--api-workers", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the orders, for a quick run")
    args = parser.parse_args()
    args.orders = max(40, int(args.orders * args.scale))

    data_dir = Path(tempfile.mkdtemp(prefix="dealerflow-bench-"))
    stack = EmbeddedStack(data_dir, free_port(), None, persistent=True)
    settings = stack.start(Settings.from_env({"DEALERFLOW_DATA_DIR": str(data_dir)}))
    children = []
    try:
        prepare(settings)
        tokens = make_data(settings, dealers=200)
        port = free_port()
        for cmd in (["worker"], ["api", "--port", str(port), "--workers", str(args.api_workers)]):
            children.append(spawn(cmd, settings, f"{cmd[0]}.log"))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/api/v1/health")
        asyncio.run(run_clients(base, tokens, 4, 40))  # warm-up: connections, compiled rules
        one = asyncio.run(run_clients(base, tokens, 1, max(50, args.orders // 3)))
        floor = asyncio.run(health_latency(base, 50))
        procs = stack_processes(children, stack)
        before = cpu_seconds(procs)
        started, client_cpu = time.perf_counter(), time.process_time()
        many = asyncio.run(run_clients(base, tokens, args.clients, args.orders))
        client_cpu = time.process_time() - client_cpu
        sessions = make_sessionmaker(make_engine(settings.database_url))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every order's workflow started
            with sessions() as s:
                if not s.scalar(select(func.count()).select_from(PendingOrderStart)):
                    break
            time.sleep(0.02)
        many["started orders/s"] = args.orders / (time.perf_counter() - started)
        after = cpu_seconds(procs)
        cpu_per_order = {k: (after[k] - before[k]) / args.orders * 1000 for k in before}
        cpu_per_order["load generator (this process)"] = client_cpu / args.orders * 1000
        bare_procs = {"temporal": [stack.temporal.proc.pid], "bench (client + worker)": [os.getpid()]}
        bare_before = cpu_seconds(bare_procs)
        bare = asyncio.run(bare_start_rate(settings, args.orders, args.clients))
        bare_after = cpu_seconds(bare_procs)
        cpu_per_start = {k: (bare_after[k] - bare_before[k]) / args.orders * 1000 for k in bare_before}
    finally:
        for c in children:
            stop(c)
        stack.stop()

    print(f"order placement over HTTP (API + worker + Temporal dev server + PostgreSQL, {os.cpu_count()} cores)")
    print(f"  1 client   : {one['orders/s']:7.1f} orders/s   p50 {one['p50 ms']:6.1f} ms   p99 {one['p99 ms']:6.1f} ms"
          f"   (aim: p50 < 50 ms; GET /health p50 {floor:.1f} ms)")
    print(f"  {args.clients} clients : {many['orders/s']:7.1f} orders/s   p50 {many['p50 ms']:6.1f} ms   "
          f"p99 {many['p99 ms']:6.1f} ms   (aim: p99 < 500 ms)")
    print(f"  {args.clients} clients : {many['started orders/s']:7.1f} orders/s until every order's workflow started")
    print("  CPU per order at 20 clients: " + ", ".join(f"{k} {v:.1f} ms" for k, v in cpu_per_order.items())
          + f"  (total {sum(cpu_per_order.values()):.1f} ms on {os.cpu_count()} cores)")
    print(f"bare workflow starts on the same server ({args.clients} concurrent): {bare:7.1f} starts/s")
    print("  CPU per bare start: " + ", ".join(f"{k} {v:.1f} ms" for k, v in cpu_per_start.items()))
    print(f"orders/s at {args.clients} clients (workflows started) ÷ bare start rate: "
          f"{many['started orders/s'] / bare:.2f}   (aim: ≥ 0.5)")


if __name__ == "__main__":
    main()
