"""Tracking webhook ingest with de-duplication, through `POST /api/v1/logistics/push/fixture` on one
API process, with the product's worker running each parcel's ShipmentWorkflow, on the embedded
PostgreSQL and Temporal dev server.

The parcels are recorded through the API (their workflows started). Their tracks then arrive as an
aggregator sends them: signed form pushes of several waybills each, every push repeating the whole
track so far (the usual shape: 1, 2, … 6 events), and a share of pushes sent twice over — so most
events received are known and must be skipped. The last event of each track is the signing: its
parcel's workflow is told by a signal after the commit. Printed, all measured in this run:
- events received per second (every event of every push, duplicates included: the aim is ≥ 2,000/s),
  new events stored per second, pushes per second, and push latency p50 / p99;
- CPU used by each process during the pushes (the machine may be shared: the load average is
  printed) and the events per CPU-second of the API process;
- the de-duplication check: events stored against the tracks' real events, parcels signed and
  workflows told.

    .venv/bin/python bench/tracking_ingest.py [--scale 1] [--per-push 10] [--clients 8] [--keep]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.logistics.providers import FixtureProvider, ROUTE, Subscribed, fixture_secret  # noqa: E402
from dealerflow.models import Dealer, Order, Product, User  # noqa: E402
from harness import BenchStack, wait_until  # noqa: E402
from order_placement import cpu_seconds, percentile  # noqa: E402
from policy_rollout import log  # noqa: E402

PARCELS = 2000  # at scale 1
RESENT = 0.1  # share of pushes the aggregator sends again
WAYBILLS_PER_SHIPMENT = 50


def make_data(bench: BenchStack, parcels: int) -> tuple[list[str], str]:
    """Approved orders (one per 50 parcels) of dealers in 广东 深圳, and an HQ token."""
    engine = make_engine(bench.settings.database_url)
    sessions = make_sessionmaker(engine)
    orders = []
    with sessions.begin() as s:
        s.add(User(username="bench-hq", password_hash=hash_password("bench-password"), role="hq"))
        product = Product(sku="TRACK-DOOR", name="Bench door", unit_price=100)
        s.add(product)
        s.flush()
        for i in range(max(1, parcels // WAYBILLS_PER_SHIPMENT)):
            dealer = Dealer(code=f"TB{i:04d}", name=f"Tracking bench dealer {i}", region="south", province="广东省",
                            city="深圳市", credit_limit=1_000_000)
            s.add(dealer)
            s.flush()
            oid = uuid.uuid4()
            s.execute(insert(Order).values(id=oid, dealer_id=dealer.id, status="approved", amount=100,
                                           workflow_id=f"order-{oid}"))
            orders.append(str(oid))
    engine.dispose()
    token = issue_token(username="bench-hq", role="hq", secret=bench.settings.secret_key, minutes=120)
    return orders, token


async def record_parcels(base: str, token: str, orders: list[str], parcels: int) -> list[str]:
    waybills = []
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        for n, order_id in enumerate(orders):
            batch = [f"SF{n:04d}{k:05d}" for k in range(min(WAYBILLS_PER_SHIPMENT, parcels - len(waybills)))]
            r = await http.post(f"/api/v1/orders/{order_id}/parcels", headers={"Authorization": f"Bearer {token}"},
                                json={"carrier": "SF", "waybills": batch, "provider": "fixture"})
            if r.status_code != 201:
                raise RuntimeError(f"recording parcels failed: {r.status_code} {r.text[:300]}")
            waybills += batch
    return waybills


def make_pushes(fixture: FixtureProvider, waybills: list[str], per_push: int, seed: int = 7) -> list[tuple[bytes, int]]:
    """Every stage of every track (1..6 events), `per_push` waybills a push, in arrival order;
    RESENT of them sent twice. Returns (body, events in it)."""
    rng = random.Random(seed)
    shipped = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=40)
    stages = []
    for stage, (hours, *_rest) in enumerate(ROUTE):
        tracks = [fixture.track(Subscribed("SF", w, shipped, "广东省深圳市"), now=shipped + timedelta(hours=hours))
                  for w in waybills]
        rng.shuffle(tracks)
        stages += [tracks[i:i + per_push] for i in range(0, len(tracks), per_push)]
    pushes = []
    for tracks in stages:
        body = fixture.push(tracks)[0]
        events = sum(len(t.events) for t in tracks)
        pushes.append((body, events))
        if rng.random() < RESENT:
            pushes.append((body, events))
    return pushes


async def send(base: str, pushes: list[tuple[bytes, int]], clients: int) -> tuple[float, list[float], int]:
    queue: asyncio.Queue = asyncio.Queue()
    for p in pushes:
        queue.put_nowait(p)
    latencies: list[float] = []
    new = 0
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    async def client():
        nonlocal new
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            while not queue.empty():
                body, _ = queue.get_nowait()
                started = time.perf_counter()
                r = await http.post("/api/v1/logistics/push/fixture", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    raise RuntimeError(f"push refused: {r.status_code} {r.text[:300]}")
                new += r.json()["new"]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help=f"1 = {PARCELS} parcels")
    parser.add_argument("--per-push", type=int, default=10, help="waybills in one push")
    parser.add_argument("--clients", type=int, default=8, help="pushes in flight at once")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    parcels = max(10, int(PARCELS * args.scale))

    with BenchStack("bench-tracking", keep=args.keep) as bench:
        worker, api = bench.worker(), bench.api()
        procs = {"api": [api.pid], "worker": [worker.pid], "temporal": [bench.stack.temporal.proc.pid],
                 "postgres": [bench.stack.postgres._server.get_pid()]}
        base = f"http://127.0.0.1:{bench.settings.api_port}"
        orders, token = make_data(bench, parcels)
        log(f"recording {parcels} parcels (their workflows started) …")
        started = time.perf_counter()
        waybills = asyncio.run(record_parcels(base, token, orders, parcels))
        recorded = time.perf_counter() - started
        fixture = FixtureProvider(fixture_secret(bench.settings.secret_key))
        pushes = make_pushes(fixture, waybills, args.per_push)
        received = sum(e for _, e in pushes)
        asyncio.run(send(base, pushes[: max(1, len(pushes) // 50)], 2))  # warm-up: connections, plans
        log(f"sending {len(pushes)} pushes of {received} events with {args.clients} clients …")
        before = cpu_seconds(procs)
        elapsed, latencies, new_in_run = asyncio.run(send(base, pushes, args.clients))
        after = cpu_seconds(procs)
        cpu = {k: after[k] - before[k] for k in before}
        engine = make_engine(bench.settings.database_url)
        with engine.connect() as c:
            stored = c.scalar(text("select count(*) from tracking_events"))
            signed = c.scalar(text("select count(*) from parcels where state = 'signed'"))
            payloads = c.scalar(text("select count(*) from tracking_payloads"))
        told_all = wait_until(lambda: _told(engine) == parcels, 60)
        told = _told(engine)
        engine.dispose()

    expected = parcels * len(ROUTE)
    print(f"tracking webhook ingest, one API process + worker + Temporal dev server + PostgreSQL "
          f"({os.cpu_count()} cores)")
    print(f"  {parcels} parcels recorded through the API in {recorded:.1f} s ({parcels / recorded:.0f} parcels/s, "
          f"workflows started)")
    print(f"  {len(pushes)} pushes of {args.per_push} waybills, {received} events received "
          f"({received - expected} already known, {1 - expected / received:.0%}), {args.clients} clients")
    print(f"  events received : {received / elapsed:8.0f} events/s   (aim: >= 2,000/s on one API process)")
    print(f"  new events      : {new_in_run / elapsed:8.0f} events/s stored")
    print(f"  pushes          : {len(pushes) / elapsed:8.1f} pushes/s   p50 {percentile(latencies, 50) * 1000:6.1f} ms"
          f"   p99 {percentile(latencies, 99) * 1000:6.1f} ms")
    print("  CPU during the pushes: " + ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())
          + f" of {elapsed:.1f} s wall on {os.cpu_count()} cores")
    print(f"    (the machine may be shared with other work: load average {os.getloadavg()[0]:.1f})")
    per_push = {k: v / len(pushes) * 1000 for k, v in cpu.items()}
    print(f"  API process     : {received / max(cpu['api'], 1e-9):8.0f} events per CPU-second of the API process "
          f"({per_push['api']:.1f} ms CPU a push); PostgreSQL {per_push['postgres']:.1f} ms CPU a push")
    print(f"  de-duplication  : {stored} events stored of {expected} real ones "
          f"({'exact' if stored == expected else 'MISMATCH'}); {payloads} payloads kept")
    print(f"  signed parcels  : {signed} of {parcels}; workflows told: {told}"
          + ("" if told_all else " (not all within 60 s)"))


def _told(engine) -> int:
    with engine.connect() as c:
        return c.scalar(text("select count(*) from parcels where workflow_told"))


if __name__ == "__main__":
    main()
