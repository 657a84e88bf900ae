"""Stock under concurrent orders, over HTTP with the product's own API and worker on the embedded stack:

1. 50 orders at once (50 clients) for one SKU with stock for 10: how many units were reserved, how
   many wait, and whether any warehouse holds more reserved than on hand (never, by the row lock and
   the CHECK constraint);
2. the cost of the stock check: orders/s at 20 clients for a stock-managed SKU (plenty of stock: every
   order reserves) versus a SKU HQ keeps no stock of, in the same run.

    .venv/bin/python bench/stock_oversell.py [--orders 300] [--clients 20] [--scale 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import BenchStack  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.models import Dealer, Product, Stock, StockAllocation, User, Warehouse  # noqa: E402


def make_data(settings, dealers: int) -> list[str]:
    """Dealers rated A with room for every order; SKUs STOCKED (stock for 10 in warehouse W1),
    PLENTY (a million units) and UNTRACKED (no stock row). Returns bearer tokens."""
    sessions = make_sessionmaker(make_engine(settings.database_url))
    pw = hash_password("bench-password")
    tokens = []
    with sessions.begin() as s:
        ids = {}
        for sku in ("STOCKED", "PLENTY", "UNTRACKED"):
            ids[sku] = s.execute(insert(Product).values(sku=sku, name=sku.title(), category="door",
                                                        unit_price=Decimal("100.00")).returning(Product.id)).scalar_one()
        wid = s.execute(insert(Warehouse).values(code="W1", name="Central", region="east")
                        .returning(Warehouse.id)).scalar_one()
        s.execute(insert(Stock), [dict(warehouse_id=wid, product_id=ids["STOCKED"], on_hand=10, reserved=0),
                                  dict(warehouse_id=wid, product_id=ids["PLENTY"], on_hand=1_000_000, reserved=0)])
        for i in range(dealers):
            code = f"S{i:04d}"
            dealer_id = s.execute(insert(Dealer).values(
                code=code, name=f"Bench dealer {i}", region="east", level=1, tier="normal",
                credit_limit=Decimal("100000000.00"), outstanding=Decimal("0"), rating="A", overdue_days=0)
                .returning(Dealer.id)).scalar_one()
            s.execute(insert(User).values(username=code.lower(), password_hash=pw, role="dealer", dealer_id=dealer_id))
            tokens.append(issue_token(username=code.lower(), role="dealer", secret=settings.secret_key, minutes=120))
    return tokens


async def run(base: str, tokens: list[str], sku: str, clients: int, orders: int) -> tuple[float, list[dict]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(orders):
        queue.put_nowait(i)
    answers: list[dict] = []

    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            while not queue.empty():
                i = queue.get_nowait()
                r = await http.post("/api/v1/orders", json={"lines": [{"sku": sku, "quantity": 1}]},
                                    headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
                if r.status_code != 201:
                    raise RuntimeError(f"unexpected response {r.status_code}: {r.text[:300]}")
                answers.append(r.json())

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return orders / (time.perf_counter() - started), answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--racing", type=int, default=50, help="orders placed at once for stock of 10")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of --orders, for a quick run")
    args = parser.parse_args()
    orders = max(40, int(args.orders * args.scale))

    with BenchStack("bench-stock") as bench:
        bench.worker()
        bench.api()
        base = f"http://127.0.0.1:{bench.settings.api_port}"
        tokens = make_data(bench.settings, dealers=max(args.racing, 50))
        asyncio.run(run(base, tokens, "UNTRACKED", 4, 40))  # warm-up
        _, raced = asyncio.run(run(base, tokens, "STOCKED", args.racing, args.racing))
        sessions = make_sessionmaker(make_engine(bench.settings.database_url))
        with sessions() as s:
            on_hand, reserved = s.execute(select(Stock.on_hand, Stock.reserved).join(Product)
                                          .where(Product.sku == "STOCKED")).one()
            held = s.scalar(select(func.coalesce(func.sum(StockAllocation.quantity), 0)).join(Product).where(
                Product.sku == "STOCKED", StockAllocation.status == "reserved"))
            over = s.scalar(select(func.count()).select_from(Stock).where(Stock.reserved > Stock.on_hand))
        answered = sum(a["allocation"]["reserved"] for a in raced)
        waiting = sum(a["allocation"]["backordered"] for a in raced)
        without, _ = asyncio.run(run(base, tokens, "UNTRACKED", args.clients, orders))
        with_check, _ = asyncio.run(run(base, tokens, "PLENTY", args.clients, orders))

    oversold = held > on_hand or reserved > on_hand or answered > on_hand or over > 0
    print(f"stock oversell: {args.racing} concurrent orders of 1 unit for a SKU with {on_hand} on hand")
    print(f"  reserved {reserved} (allocation rows {held}, answers {answered}), waiting for stock {waiting}; "
          f"oversold: {'YES' if oversold else 'no'}")
    print(f"orders/s at {args.clients} clients, {orders} orders each, same run:")
    print(f"  without stock (SKU not stock-managed): {without:7.1f} orders/s")
    print(f"  with the stock check (every order reserves from one stock row): {with_check:7.1f} orders/s")
    print(f"  with ÷ without: {with_check / without:.2f}")
    if oversold:
        sys.exit(1)


if __name__ == "__main__":
    main()
