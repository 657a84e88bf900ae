"""Channel inventory (渠道库存): what sits at the dealers and sells through to stores, measured every day
into health figures, advice by the inventory rule file, replenishment drafts placed through the order
service, and a demand forecast behind them."""
