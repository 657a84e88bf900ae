"""Reports and dashboards (区域销售排行榜, 终端动销TOP10, policy effect by region, tasks and SLAs,
settlement runs, diversion cases, tiers, silent dealers, a dealer's own view). Read-only, set-based:
each report is one or a few GROUP BY queries whatever the number of dealers. Every report takes
`Filters` (a period, a region, a product category) and `dealer_ids` (the dealers the caller may
see; None: every dealer)."""
