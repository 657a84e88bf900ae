"""Policy rollout at 10,000 dealers on the embedded PostgreSQL and Temporal dev server, with a real
worker and API process: time from publish until every dealer has the policy in its inbox and
chasing is live; acknowledgments per second over HTTP; the rollout's history length and the
worker's peak memory. In the same run, the naive design (one child workflow per dealer) against a
real rollout of the same size.

    .venv/bin/python bench/policy_rollout.py [--dealers 10000] [--clients 48] [--api-processes 2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
from sqlalchemy import insert, text
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.config import Settings  # noqa: E402
from dealerflow.core.db import make_engine  # noqa: E402
from dealerflow.models import Dealer, User  # noqa: E402
from dealerflow.core.runtime import free_port  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from launcher.processes import spawn, stop  # noqa: E402
from launcher.stack import EmbeddedStack, prepare  # noqa: E402
from order_placement import cpu_seconds, percentile, wait_http  # noqa: E402
from workflows import PolicyRolloutWorkflow  # noqa: E402

# Uneven regions, like a real network; "northwest" holds the 1,000 dealers of the comparison.
REGIONS = {"east": 0.2, "south": 0.2, "north": 0.2, "central": 0.15, "southwest": 0.15, "northwest": 0.1}
TAGS = [[], ["retail_terminal"], ["window_specialist"], ["retail_terminal", "high_growth"]]
ACCOUNT_MANAGERS = [f"am_bench_{i}" for i in range(1, 6)]
# Deadline and chase steps far enough out that no sweep runs during the measurement; an open-ended
# effective window keeps the rollout in "active".
ACK = "{required: true, deadline: 1h, reminders: [30m], escalate: [{after: 45m, to: account_manager}]}"
POLICY = """ruleset: {id}
kind: policy
policy:
  title: {title}
  category: promotion
  body: Set up the display kit and acknowledge.
  effective: {{from: 2026-01-01, to: 2099-12-31}}
  target: '{target}'
  acknowledgment: {ack}
"""


# --- data ------------------------------------------------------------------------------------------

def make_data(engine, dealers: int) -> dict[str, list]:
    """Dealers in every region with one dealer user each, account managers and one HQ user, in
    chunked Core inserts. One bcrypt hash for all: hashing 10,000 passwords would take minutes."""
    pw = hash_password("bench-password")
    regions = [r for r, share in REGIONS.items() for _ in range(round(share * dealers))][:dealers]
    rows = [dict(code=f"P{i:05d}", name=f"Bench dealer {i}", region=regions[i], level=1, tier="core",
                 credit_limit=Decimal("100000.00"), outstanding=Decimal("0"), rating="A", overdue_days=0,
                 account_manager=ACCOUNT_MANAGERS[i % len(ACCOUNT_MANAGERS)], tags=TAGS[i % len(TAGS)],
                 channel="retail") for i in range(len(regions))]
    out: dict[str, list] = defaultdict(list)
    with engine.begin() as c:
        for start in range(0, len(rows), 2000):
            chunk = rows[start:start + 2000]
            ids = c.execute(insert(Dealer.__table__).returning(Dealer.id, Dealer.code, Dealer.region), chunk).all()
            c.execute(insert(User.__table__), [dict(username=code.lower(), password_hash=pw, role="dealer",
                                                    dealer_id=id_) for id_, code, _ in ids])
            for id_, code, region in ids:
                out["usernames"].append(code.lower())
                out[region].append(id_)
        c.execute(insert(User.__table__), [dict(username=u, password_hash=pw, role=r, dealer_id=None) for u, r in
                                           [(m, "account_manager") for m in ACCOUNT_MANAGERS] + [("bench_hq", "hq")]])
        # The naive design's delivery mark, outside the product schema.
        c.execute(text("create table bench_naive_deliveries (dealer_id int primary key, at timestamptz not null)"))
    return out


# --- processes -------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class PeakRss(threading.Thread):
    """Samples a process's resident memory in the background, with its children's (a worker's
    adviser processes); `peak` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.proc, self.interval, self.peak = psutil.Process(pid), interval, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                rss = self.proc.memory_info().rss
                children = self.proc.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for child in children:
                try:
                    rss += child.memory_info().rss
                except psutil.NoSuchProcess:  # a child that ended meanwhile
                    pass
            self.peak = max(self.peak, rss)


# --- the rollout -----------------------------------------------------------------------------------

async def rollout(engine, temporal: Client, api: httpx.AsyncClient, hq: dict, policy_id: str, target: str,
                  expected: int, timeout: float = 600) -> dict:
    """Deploy a policy file and publish it over HTTP; time until `expected` dealers have it delivered
    and the workflow reports stage "active" with its next sweep scheduled."""
    body = POLICY.format(id=policy_id, title=f"Bench display {policy_id}", target=target, ack=ACK)
    r = await api.post("/api/v1/rules/deploy", params={"filename": f"rules/policies/{policy_id}.yaml"},
                       content=body.encode(), headers={**hq, "Content-Type": "application/yaml"})
    if r.status_code != 201:
        raise RuntimeError(f"deploy {policy_id}: {r.status_code} {r.text[:300]}")
    started = time.perf_counter()
    r = await api.post(f"/api/v1/policies/{policy_id}/publish", headers=hq)
    if r.status_code != 202 or r.json()["action"] != "started":
        raise RuntimeError(f"publish {policy_id}: {r.status_code} {r.text[:300]}")
    handle = temporal.get_workflow_handle(r.json()["workflow_id"])
    out = {"delivered s": None, "active s": None, "delivered": 0}
    count = text("select count(*) from policy_targets where policy_id = :p and delivered_at is not null")
    while time.perf_counter() - started < timeout:
        if out["delivered s"] is None:
            with engine.connect() as c:
                out["delivered"] = c.execute(count, {"p": policy_id}).scalar_one()
            if out["delivered"] >= expected:
                out["delivered s"] = time.perf_counter() - started
        if out["delivered s"] is not None:
            progress = await handle.query(PolicyRolloutWorkflow.progress)
            if progress["stage"] == "active" and progress["next_sweep"]:
                out["active s"] = time.perf_counter() - started
                out["progress"] = progress
                break
        await asyncio.sleep(0.1)
    out["handle"] = handle
    return out


async def timeline(handle) -> dict[str, tuple[int, float, float]]:
    """Per activity type: how many ran, when the first was scheduled and the last completed, in
    seconds from the workflow's start: where the rollout's time went."""
    start, names, seen = None, {}, {}
    async for e in handle.fetch_history_events():
        at = e.event_time.ToDatetime()
        start = start or at
        if e.HasField("activity_task_scheduled_event_attributes"):
            name = names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            n, first, last = seen.get(name, (0, at, at))
            seen[name] = (n + 1, first, last)
        elif e.HasField("activity_task_completed_event_attributes"):
            name = names[e.activity_task_completed_event_attributes.scheduled_event_id]
            n, first, last = seen[name]
            seen[name] = (n, first, max(last, at))
    return {name: (n, (a - start).total_seconds(), (b - start).total_seconds()) for name, (n, a, b) in seen.items()}


# --- acknowledgments -------------------------------------------------------------------------------

async def acknowledge_all(bases: list[str], policy_id: str, tokens: list[str], clients: int) -> dict:
    """Every dealer acknowledges once, over `clients` keep-alive connections spread over the API
    processes. Plain HTTP/1.1 on asyncio streams: the dealers' side runs on the same two cores as
    the stack, and httpx would spend ~1.4 ms of CPU per request there, ten times this."""
    latencies: list[float] = []
    errors: list[str] = []
    pending = iter(range(len(tokens)))  # shared: each token is taken by exactly one client

    async def client(n: int) -> None:
        host, port = bases[n % len(bases)].removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in pending:
                started = time.perf_counter()
                writer.write(f"POST /api/v1/policies/{policy_id}/acknowledge HTTP/1.1\r\nHost: {host}\r\n"
                             f"Authorization: Bearer {tokens[i]}\r\nContent-Length: 0\r\n\r\n".encode())
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = re.search(r"(?im)^content-length:\s*(\d+)", head)
                body = await reader.readexactly(int(length[1])) if length else b""
                latencies.append(time.perf_counter() - started)
                if not head.startswith("HTTP/1.1 200 ") or not length or json.loads(body).get("version") != 1:
                    errors.append(f"{head.splitlines()[0]} {body[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - started
    return {"acks/s": len(tokens) / wall, "wall s": wall, "p50 ms": percentile(latencies, 50) * 1000,
            "p99 ms": percentile(latencies, 99) * 1000, "errors": errors}


# --- the naive design: a child workflow per dealer -------------------------------------------------

class NaiveActivities:
    def __init__(self, engine):
        self.engine = engine

    @activity.defn(name="bench_naive_mark_delivered")
    def mark_delivered(self, dealer_id: int) -> None:
        with self.engine.begin() as c:
            c.execute(text("insert into bench_naive_deliveries values (:d, now()) on conflict do nothing"),
                      {"d": dealer_id})


# Unsandboxed (cheaper to run than the product's sandboxed workflows): the comparison favours the naive side.
@workflow.defn(sandboxed=False)
class NaiveDeliveryWorkflow:
    @workflow.run
    async def run(self, dealer_id: int) -> None:
        await workflow.execute_activity_method(NaiveActivities.mark_delivered, dealer_id,
                                               start_to_close_timeout=timedelta(minutes=5))


@workflow.defn(sandboxed=False)
class NaiveRolloutWorkflow:
    @workflow.run
    async def run(self, dealer_ids: list[int]) -> int:
        parent = workflow.info().workflow_id
        await asyncio.gather(*(workflow.execute_child_workflow(NaiveDeliveryWorkflow.run, d, id=f"{parent}-{d}")
                               for d in dealer_ids))
        return len(dealer_ids)


async def naive_rollout(engine, temporal: Client, dealer_ids: list[int]) -> dict:
    """The same worker shape as the product's (16 activity threads), in this process, own task queue."""
    queue = "bench-naive"
    with ThreadPoolExecutor(16) as executor:
        async with Worker(temporal, task_queue=queue, workflows=[NaiveRolloutWorkflow, NaiveDeliveryWorkflow],
                          activities=[NaiveActivities(engine).mark_delivered], activity_executor=executor,
                          max_concurrent_activities=16):
            started = time.perf_counter()
            handle = await temporal.start_workflow(NaiveRolloutWorkflow.run, dealer_ids, id="bench-naive-rollout",
                                                   task_queue=queue)
            done = await handle.result()
            seconds = time.perf_counter() - started
    with engine.connect() as c:
        marked = c.execute(text("select count(*) from bench_naive_deliveries")).scalar_one()
    return {"seconds": seconds, "children": done, "marked": marked,
            "history": len((await handle.fetch_history()).events)}


# --- the run ---------------------------------------------------------------------------------------

async def measure(args, settings: Settings, engine, data: dict, children: dict, bases: list[str]) -> dict:
    temporal = await connect(settings)
    secret = settings.secret_key
    hq = {"Authorization": f"Bearer {issue_token(username='bench_hq', role='hq', secret=secret, minutes=120)}"}
    tokens = [issue_token(username=u, role="dealer", secret=secret, minutes=120) for u in data["usernames"]]
    res: dict = {"failures": [], "dealers": len(tokens)}
    async with httpx.AsyncClient(base_url=bases[0], timeout=120) as api:
        log(f"publishing to {len(tokens)} dealers")
        big = await rollout(engine, temporal, api, hq, "bench_all", "dealer.level == 1", len(tokens))
        res["big"] = big
        if big["active s"] is None:
            res["failures"].append(f"rollout to {len(tokens)}: {big['delivered']} delivered, not active in time")
            return res
        res["timeline"] = await timeline(big["handle"])

        log(f"acknowledging as {len(tokens)} dealers")
        before, own = cpu_seconds(children), time.process_time()
        res["ack"] = await acknowledge_all(bases, "bench_all", tokens, args.clients)
        after = cpu_seconds(children)
        # This process is the dealers' side, on the same two cores; shown apart from the stack.
        res["ack cpu"] = {**{k: after[k] - before[k] for k in before}, "bench clients": time.process_time() - own}
        with engine.connect() as c:
            res["acked"] = c.execute(text("select count(*) from policy_targets where policy_id = 'bench_all' "
                                          "and acknowledged_version = delivered_version")).scalar_one()
        if res["ack"]["errors"]:
            res["failures"].append(f"{len(res['ack']['errors'])} acknowledgments failed, "
                                   f"first: {res['ack']['errors'][0]}")
        if res["acked"] != len(tokens):
            res["failures"].append(f"{res['acked']} acknowledgments in the database, expected {len(tokens)}")
        res["history"] = len((await big["handle"].fetch_history()).events)

        small_ids = data["northwest"]
        log(f"publishing to {len(small_ids)} dealers, then a child workflow per dealer")
        small = await rollout(engine, temporal, api, hq, "bench_northwest", 'dealer.region == "northwest"',
                              len(small_ids))
        res["small"] = small
        if small["active s"] is None:
            res["failures"].append(f"rollout to {len(small_ids)}: {small['delivered']} delivered, not active in time")
    before, own = cpu_seconds(children), time.process_time()
    res["naive"] = await naive_rollout(engine, temporal, small_ids)
    after = cpu_seconds(children)
    res["naive cpu"] = {**{k: after[k] - before[k] for k in before}, "bench (naive worker)": time.process_time() - own}
    if res["naive"]["marked"] != len(small_ids):
        res["failures"].append(f"naive: {res['naive']['marked']} of {len(small_ids)} dealers marked delivered")
    return res


def report(args, res: dict, rss_peak: int) -> None:
    """Details first, then the summary block with the targets."""
    big, small, naive, ack = res.get("big"), res.get("small"), res.get("naive"), res.get("ack")
    dealers, cores = res.get("dealers", args.dealers), os.cpu_count()
    rows = []  # (figure, value, target, met)

    def row(name: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append((name, value, target, "" if met is None else "ok" if met else "MISSED"))

    print()
    if big and big["active s"] is not None:
        print(f"rollout to {dealers} dealers, activities in seconds from the workflow's start: " + ", ".join(
            f"{name} {n}× {a:.1f}–{b:.1f}" for name, (n, a, b) in res["timeline"].items()))
        row("publish → every dealer has it in the inbox", f"{big['delivered s']:.1f} s")
        row("publish → chasing live (active, next sweep set)", f"{big['active s']:.1f} s", "< 60 s",
            big["active s"] < 60)
    if ack:
        cpu = res["ack cpu"]
        print(f"acknowledgments, CPU seconds over {ack['wall s']:.1f} s ({ack['wall s'] * cores:.1f} available): "
              + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
        print("acknowledgments, CPU per request: " + ", ".join(f"{k} {v / dealers * 1000:.2f} ms"
                                                              for k, v in cpu.items()))
        row(f"acknowledgments over HTTP ({args.clients} clients, {args.api_processes} API proc.)",
            f"{ack['acks/s']:.0f}/s", "≥ 500/s", ack["acks/s"] >= 500)
        row("  latency p50 / p99", f"{ack['p50 ms']:.0f} / {ack['p99 ms']:.0f} ms")
        row("  acknowledged in the database", f"{res['acked']} of {dealers}", f"{dealers}", res["acked"] == dealers)
    if "history" in res:
        row("rollout workflow history", f"{res['history']} events", "< 10,240", res["history"] < 10240)
    row("worker peak RSS (whole run)", f"{rss_peak / 2**20:.0f} MiB")
    if naive:
        print(f"child workflow per dealer, CPU seconds over {naive['seconds']:.1f} s: "
              + ", ".join(f"{k} {v:.1f}" for k, v in res["naive cpu"].items()))
    if small and small["active s"] is not None and naive:
        n = naive["children"]
        row(f"{n} dealers, batched rollout: publish → active", f"{small['active s']:.1f} s")
        row(f"{n} dealers, a child workflow per dealer: all done", f"{naive['seconds']:.1f} s")
        row("  naive ÷ batched", f"{naive['seconds'] / small['active s']:.0f}×")
        row("  naive parent workflow history", f"{naive['history']} events")
    apis = f"{args.api_processes} API process" + ("es" if args.api_processes > 1 else "")
    print(f"\npolicy rollout, {cores} cores: embedded PostgreSQL, Temporal dev server, 1 worker, {apis}")
    rows.insert(0, ("", "figure", "target", ""))
    for name, value, target, met in rows:
        print(f"  {name:<58} {value:<16} {target:<10} {met}".rstrip())
    for f in res["failures"]:
        print(f"FAILED: {f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dealers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=48)
    # One API process is the bottleneck (its event loop and threads share one GIL): two use both cores.
    parser.add_argument("--api-processes", type=int, default=2)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="dealerflow-bench-"))
    stack = EmbeddedStack(data_dir, free_port(), None, persistent=True)
    settings = stack.start(Settings.from_env({"DEALERFLOW_DATA_DIR": str(data_dir)}))
    procs, res, rss = [], {"failures": ["did not finish"]}, None
    try:
        prepare(settings)
        engine = make_engine(settings.database_url, pool_size=16)
        log(f"stack up in {data_dir}; loading {args.dealers} dealers")
        data = make_data(engine, args.dealers)
        worker = spawn(["worker"], settings, "worker.log")
        procs.append(worker)
        ports = [free_port() for _ in range(args.api_processes)]
        procs += [spawn(["api", "--port", str(p)], settings, f"api-{p}.log") for p in ports]
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            wait_http(base + "/api/v1/health")
        rss = PeakRss(worker.pid)
        rss.start()
        children = {"api": [p.pid for p in procs[1:]], "worker": [worker.pid], "temporal": [stack.temporal.proc.pid],
                    "postgres": [stack.postgres._server.get_pid()]}
        res = asyncio.run(measure(args, settings, engine, data, children, bases))
    except Exception:
        traceback.print_exc()
    finally:
        for p in procs:
            stop(p)
        stack.stop()
    if rss:
        rss.stopped.set()
    report(args, res, rss.peak if rss else 0)
    if res["failures"]:
        print(f"logs kept in {data_dir}")
        sys.exit(1)
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
