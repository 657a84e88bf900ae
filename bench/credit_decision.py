"""The credit decision through durable_rules (the shipped rules/credit_approval.yaml) beside the same
rules written as plain Python, in one run: decisions per second and p99 latency of each.

    .venv/bin/python bench/credit_decision.py [--decisions 50000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies_dsl import compile_rule_file, load_rule_file  # noqa: E402


def plain_python(f: dict) -> str:
    """The same three outcomes as rules/credit_approval.yaml, hand-written."""
    if f["dealer.overdue_days"] > 90:
        return "reject"
    if f["dealer.credit_points"] < 90:
        return "review"
    if f["order.amount"] <= f["dealer.credit_limit"] - f["dealer.outstanding"] and f["dealer.rating"] in ("A", "B"):
        return "approve"
    return "review"


def facts(rng: random.Random) -> dict:
    limit = Decimal(rng.randrange(10_000, 2_000_000, 100))
    return {
        "dealer.rating": rng.choice("AABBBCCD"),
        "dealer.overdue_days": rng.choice([0, 0, 0, 15, 45, 95, 120]),
        "dealer.credit_limit": limit,
        "dealer.outstanding": (limit * Decimal(rng.randrange(0, 120)) / 100).quantize(Decimal("0.01")),
        "dealer.credit_points": rng.choice([100, 100, 100, 95, 90, 80]),
        "order.amount": Decimal(rng.randrange(100, 20_000_000)) / 100,
    }


def measure(fn, inputs) -> tuple[float, float, list]:
    latencies, results = [], []
    started = time.perf_counter()
    for f in inputs:
        t = time.perf_counter()
        results.append(fn(f))
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    latencies.sort()
    return len(inputs) / wall, latencies[int(0.99 * (len(latencies) - 1))], results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    rule_file = load_rule_file("rules/credit_approval.yaml", (ROOT / "rules" / "credit_approval.yaml").read_text())
    ruleset = compile_rule_file(rule_file, version=1)
    rng = random.Random(42)
    inputs = [facts(rng) for _ in range(args.decisions)]
    measure(lambda f: ruleset.decide(f), inputs[:2000])  # warm-up
    engine_rate, engine_p99, engine_out = measure(lambda f: ruleset.decide(f).outcome["decision"], inputs)
    plain_rate, plain_p99, plain_out = measure(plain_python, inputs)
    if engine_out != plain_out:
        bad = next(i for i, (a, b) in enumerate(zip(engine_out, plain_out)) if a != b)
        raise SystemExit(f"engine and plain Python disagree on {inputs[bad]}: {engine_out[bad]} vs {plain_out[bad]}")
    print(f"credit decisions, {args.decisions} random orders, one process (outcomes agree: "
          f"{sum(o == 'approve' for o in plain_out)} approve, {sum(o == 'review' for o in plain_out)} review, "
          f"{sum(o == 'reject' for o in plain_out)} reject)")
    print(f"  durable_rules : {engine_rate:10,.0f} decisions/s   p99 {engine_p99 * 1e6:7.1f} µs   "
          "(aim: ≥ 20,000/s, p99 ≤ 200 µs)")
    print(f"  plain Python  : {plain_rate:10,.0f} decisions/s   p99 {plain_p99 * 1e6:7.1f} µs")
    print(f"  engine / plain: {plain_rate / engine_rate:.0f}× slower")


if __name__ == "__main__":
    main()
