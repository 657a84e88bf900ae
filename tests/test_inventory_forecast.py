"""The demand forecast: per series AutoETS or TSB by the intermittency rule, stored with its model,
horizon and backtest MASE beside the seasonal-naive baseline's; cover days read it."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import insert, select

from dealerflow.inventory import forecast, health
from dealerflow.models import DemandForecast, InventoryHealth, SellThrough

from .policy_support import unique
from .test_inventory import DAY, make_product, report


def test_intermittent_series_get_tsb_and_regular_ones_autoets():
    rng = np.random.default_rng(7)
    regular = 30 + rng.normal(0, 2, 40)
    sparse = np.array([0.0, 0, 3, 0, 0, 0, 2, 0] * 5)
    fitted = {f.key: f for f in forecast.fit_series({("a",): regular, ("b",): sparse, ("c",): regular[:5]})}
    assert fitted[("a",)].model == "AutoETS" and not fitted[("a",)].intermittent
    assert fitted[("b",)].model == "TSB" and fitted[("b",)].intermittent
    assert ("c",) not in fitted  # too short to forecast
    assert 110 < fitted[("a",)].quantity < 145  # 30 a week: about 129 in 30 days
    assert fitted[("a",)].mase is not None and fitted[("a",)].baseline_mase is not None


def test_forecasts_are_stored_and_cover_reads_them(client, make_dealer, sessions):
    region = unique("r")
    dealer, product = make_dealer(region=region), make_product(sessions)
    with sessions.begin() as s:
        s.execute(insert(SellThrough), [dict(dealer_id=dealer.dealer.id, product_id=product.id,
                                             day=DAY - timedelta(days=d), source="feed", quantity=7, reported_by="t")
                                        for d in range(0, 7 * 30)])
    with sessions.begin() as s:
        result = forecast.fit_all(s, day=DAY)
    assert result.series >= 2
    with sessions() as s:
        rows = {f.scope: f for f in s.scalars(select(DemandForecast).where(
            DemandForecast.product_id == product.id, DemandForecast.fitted_on == DAY))}
    assert set(rows) == {"region", "dealer"}
    mine = rows["dealer"]
    assert mine.model == "AutoETS" and mine.horizon_days == 30 and mine.dealer_id == dealer.dealer.id
    assert abs(mine.quantity - 210) < 5  # 7 a day for 30 days
    assert report(client, dealer, [{"sku": product.sku, "day": DAY.isoformat(), "on_hand": 10}]).status_code == 201
    with sessions.begin() as s:
        health.compute(s, day=DAY, region=region, average_over_days=90, slow_over=None)
    with sessions() as s:
        h = s.scalars(select(InventoryHealth).where(InventoryHealth.dealer_id == dealer.dealer.id)).one()
    assert h.demand_source == "forecast" and h.daily_demand == mine.daily
