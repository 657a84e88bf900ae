"""A 30-day demand forecast per region × product and per dealer × product, re-fitted weekly, with
statsforecast (Nixtla): weekly sell-through, AutoETS for regular series and TSB (the Croston
family's version that lets demand die out) for intermittent ones — a series is intermittent when more
than `INTERMITTENT_SHARE` of its weeks sold nothing; the stored forecast names the model it used.

Each series is backtested first: fitted without its last `HOLDOUT` weeks, scored on them by MASE
(mean absolute error over the in-sample MAE of the seasonal-naive forecast), beside the
seasonal-naive baseline's own MASE on the same weeks. Then refitted on everything for the horizon.
`fit_series` is pure (arrays in, forecasts out); `fit_all` reads the history and stores the results.
The library is imported on first use: it costs seconds to import (README: dependency cost)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Callable

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts import ForecastResult
from dealerflow.models import DemandForecast

HORIZON_DAYS = 30
HISTORY_WEEKS = 104
HOLDOUT = 4  # weeks held out for the backtest
MIN_WEEKS = 12  # fewer weeks since the first sale: no forecast
SEASON = 52
INTERMITTENT_SHARE = 0.3
HORIZON_WEEKS = -(-HORIZON_DAYS // 7)  # 5 weeks cover 30 days


@dataclass(frozen=True)
class Fitted:
    key: tuple
    model: str
    intermittent: bool
    quantity: float  # demand over the horizon (days)
    mase: float | None
    baseline_mase: float | None
    model_error: float | None  # mean absolute error on the held-out weeks
    baseline_error: float | None
    scale: float | None  # in-sample seasonal-naive MAE


def is_intermittent(y) -> bool:
    return float((y == 0).mean()) > INTERMITTENT_SHARE


def _scale(y, season: int) -> float | None:
    import numpy as np

    lag = season if len(y) > season else 1
    if len(y) <= lag:
        return None
    mae = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    return mae if mae > 0 else None


def _seasonal_naive(y, h: int, season: int):
    import numpy as np

    lag = season if len(y) >= season else 1
    last = y[-lag:]
    return np.array([last[i % lag] for i in range(h)], dtype=float)


def fit_series(series: dict[tuple, "object"], *, n_jobs: int = 1) -> list[Fitted]:
    """series: key → weekly demand (numpy, oldest first, the last week complete). One StatsForecast
    fit per model over all its series, for the backtest and again for the horizon."""
    import numpy as np
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, AutoETS

    kept = {k: np.asarray(y, dtype=float) for k, y in series.items() if len(y) >= MIN_WEEKS}
    groups = {"AutoETS": [], "TSB": []}
    for k, y in kept.items():
        groups["TSB" if is_intermittent(y) else "AutoETS"].append(k)
    models = {"AutoETS": lambda: AutoETS(season_length=1), "TSB": lambda: TSB(alpha_d=0.2, alpha_p=0.2)}
    out = []
    for name, keys in groups.items():
        if not keys:
            continue
        ids = {i: k for i, k in enumerate(keys)}

        def frame(cut: int):
            parts = []
            for i, k in ids.items():
                y = kept[k][:-cut] if cut else kept[k]
                parts.append(pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y}))
            return pd.concat(parts, ignore_index=True)

        def forecast(df, h):
            sf = StatsForecast(models=[models[name]()], freq=1, n_jobs=n_jobs)
            result = sf.forecast(df=df, h=h)
            column = [c for c in result.columns if c not in ("unique_id", "ds")][0]
            return {uid: g[column].to_numpy() for uid, g in result.groupby("unique_id")}

        backtest = forecast(frame(HOLDOUT), HOLDOUT)
        ahead = forecast(frame(0), HORIZON_WEEKS)
        for i, k in ids.items():
            y = kept[k]
            train, test = y[:-HOLDOUT], y[-HOLDOUT:]
            scale = _scale(train, SEASON)
            model_error = float(np.mean(np.abs(np.clip(backtest[i], 0, None) - test)))
            base_error = float(np.mean(np.abs(_seasonal_naive(train, HOLDOUT, SEASON) - test)))
            weeks = np.clip(ahead[i], 0, None)
            quantity = float(weeks[:HORIZON_DAYS // 7].sum() + weeks[HORIZON_DAYS // 7] * (HORIZON_DAYS % 7) / 7)
            out.append(Fitted(k, name, name == "TSB", quantity, model_error / scale if scale else None,
                              base_error / scale if scale else None, model_error, base_error, scale))
    return out


# Weekly sell-through (a day's feed, else its scans) per dealer × product, weeks ending on `day`.
_WEEKLY = text("""
    select s.dealer_id, d.region, s.product_id, (:day - s.day) / 7 as back,
           sum(s.quantity) as q
    from (select dealer_id, product_id, day,
                 coalesce(sum(quantity) filter (where source = 'feed'), sum(quantity)) as quantity
          from sell_through where day > :start and day <= :day group by 1, 2, 3) s
    join dealers d on d.id = s.dealer_id
    group by 1, 2, 3, 4""")

_ACTUALS = text("""
    update demand_forecasts f set actual = a.q
    from (select f2.id, coalesce(sum(x.quantity), 0) as q
          from demand_forecasts f2
          left join (select dealer_id, product_id, day,
                            coalesce(sum(quantity) filter (where source = 'feed'), sum(quantity)) as quantity
                     from sell_through group by 1, 2, 3) x
            on x.product_id = f2.product_id and x.day > f2.fitted_on and x.day <= f2.fitted_on + f2.horizon_days
           and (f2.scope = 'region' and x.dealer_id in (select id from dealers where region = f2.region)
                or f2.scope = 'dealer' and x.dealer_id = f2.dealer_id)
          where f2.actual is null and f2.fitted_on + f2.horizon_days <= :day
          group by f2.id) a
    where f.id = a.id""")


def history(session: Session, *, day: date) -> dict[tuple, "object"]:
    """Weekly series, oldest week first, from each series' first sale: dealer keys ('dealer', region,
    dealer_id, product_id) and their regions' sums ('region', region, 0, product_id)."""
    import numpy as np

    start = day - timedelta(days=7 * HISTORY_WEEKS)
    weeks: dict[tuple, dict[int, float]] = {}
    for dealer_id, region, product_id, back, q in session.execute(_WEEKLY, {"day": day, "start": start}):
        for key in (("dealer", region, dealer_id, product_id), ("region", region, 0, product_id)):
            w = weeks.setdefault(key, {})
            w[back] = w.get(back, 0) + float(q)
    series = {}
    for key, w in weeks.items():
        first = max(w)
        series[key] = np.array([w.get(b, 0.0) for b in range(first, -1, -1)])
    return series


def fit_all(session: Session, *, day: date, progress: Callable = lambda *a: None, n_jobs: int = 1) -> ForecastResult:
    """Fit every series and store its forecast (once per series and day); fill in the actual
    demand of forecasts whose horizon has passed."""
    session.execute(_ACTUALS, {"day": day})
    series = history(session, day=day)
    progress(len(series))
    fitted = fit_series(series, n_jobs=n_jobs)
    rows = [dict(scope=f.key[0], region=f.key[1], dealer_id=f.key[2], product_id=f.key[3], fitted_on=day,
                 model=f.model, intermittent=f.intermittent, horizon_days=HORIZON_DAYS,
                 quantity=Decimal(f"{f.quantity:.2f}"), daily=Decimal(f"{f.quantity / HORIZON_DAYS:.4f}"),
                 mase=None if f.mase is None else Decimal(f"{min(f.mase, 999999):.4f}"),
                 baseline_mase=None if f.baseline_mase is None else Decimal(f"{min(f.baseline_mase, 999999):.4f}"))
            for f in fitted]
    for i in range(0, len(rows), 1000):
        session.execute(insert(DemandForecast).on_conflict_do_nothing(constraint="demand_forecast_once"),
                        rows[i:i + 1000])
    models: dict[str, int] = {}
    for f in fitted:
        models[f.model] = models.get(f.model, 0) + 1
    return ForecastResult(day.isoformat(), len(fitted), models, *overall(fitted))


def overall(fitted: list[Fitted]) -> tuple[float | None, float | None]:
    """MASE over all series with a scale: mean of the scaled errors, for the model and the baseline."""
    scored = [f for f in fitted if f.scale]
    if not scored:
        return None, None
    return (sum(f.mase for f in scored) / len(scored), sum(f.baseline_mase for f in scored) / len(scored))
