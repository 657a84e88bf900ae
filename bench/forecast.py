"""The weekly forecast for 5,000 region/dealer × product series with two years of daily history
aggregated to weeks, through dealerflow.inventory.forecast.fit_series (statsforecast: AutoETS, or
TSB for intermittent series), against the seasonal-naive baseline on the held-out weeks.

Series are generated here (no database): a level per series, a yearly season, a trend for some,
noise, and one series in four intermittent. Printed, all measured in this run:
- the library's first import (the dependency's cost) and the fit of every series (backtest + horizon);
- the models chosen; MASE(model) ÷ MASE(seasonal naive) overall and per model.

    .venv/bin/python bench/forecast.py [--scale 1.0] [--jobs 2]   # 0.1: 500 series
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from dealerflow.inventory import forecast  # noqa: E402

SERIES = 5_000
DAYS = 730


def make_series(n: int, rng) -> dict:
    series = {}
    t = np.arange(DAYS)
    for i in range(n):
        if i % 4 == 3:  # intermittent: a sale now and then
            daily = rng.poisson(0.08, DAYS) * rng.integers(1, 6)
        else:
            level = rng.uniform(2, 40)
            season = 1 + rng.uniform(0, 0.4) * np.sin(2 * np.pi * (t + rng.integers(0, 365)) / 365)
            trend = 1 + (rng.uniform(-0.3, 0.5) if i % 3 == 0 else 0) * t / DAYS
            daily = rng.poisson(np.clip(level * season * trend, 0.01, None))
        weekly = daily[DAYS % 7:].reshape(-1, 7).sum(axis=1).astype(float)
        series[("dealer" if i % 5 else "region", "r", i, i % 200)] = weekly
    return series


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=2, help="processes statsforecast fits with")
    args = parser.parse_args()
    n = max(8, int(SERIES * args.scale))
    series = make_series(n, np.random.default_rng(5))
    t = time.perf_counter()
    import statsforecast.models  # noqa: F401
    first_import = time.perf_counter() - t
    t = time.perf_counter()
    fitted = forecast.fit_series(series, n_jobs=args.jobs)
    fit_s = time.perf_counter() - t
    model, baseline = forecast.overall(fitted)
    print(f"\nforecast of {len(fitted):,} series, {len(next(iter(series.values())))} weeks each (2 years of days), "
          f"horizon {forecast.HORIZON_DAYS} days, {forecast.HOLDOUT} weeks held out, {args.jobs} job(s)")
    print(f"  statsforecast first import                    {first_import:8.3f} s")
    print(f"  backtest + fit of every series                {fit_s:8.3f} s   = {len(fitted) / fit_s:,.0f} series/s")
    for name in ("AutoETS", "TSB"):
        part = [f for f in fitted if f.model == name and f.scale]
        if part:
            m, b = forecast.overall(part)
            print(f"  {name:8s} {len(part):6,} series: MASE {m:.3f}, seasonal naive {b:.3f}, ratio {m / b:.3f}")
    print(f"  overall MASE {model:.3f} ÷ seasonal naive {baseline:.3f} = {model / baseline:.3f}")


if __name__ == "__main__":
    main()
