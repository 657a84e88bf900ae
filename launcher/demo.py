"""The demo dataset: a door, window and cabinet manufacturer (like "K企业" in seed 003) selling
through ~600 dealers in six Chinese sales regions, with a year of order history: shipped, delivered,
some goods returned, paid, and each of those booked to the dealer's account.

`seed_demo` fills an EMPTY database deterministically: the same seed and `today` give the same
rows. Everything comes from one `random.Random(seed)`; the global random module is never used.
Rows go in with Core bulk inserts in chunks, so 600 dealers with a year of orders take seconds."""
from __future__ import annotations

import csv
import io
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.orm import Session

from dealerflow.shared import accounts
from dealerflow.diversion.codes import bind, register
from dealerflow.models import (Dealer, Order, OrderEvent, OrderLine, OrderReturn, Payment, Product, ProductCode,
                               Region, RegionManager, Statement, Stock, StockAllocation, User, Warehouse)
from dealerflow.contracts.orders import workflow_id_for
from dealerflow.core.periods import last_closed, period_of
from dealerflow.rebates.programs import programs
from dealerflow.rebates.settlement import SettlementError, confirm, dispute, plan_run
from dealerflow.core.security import hash_password

DEFAULT_SEED = 20261122
CHUNK = 5000
CST = timezone(timedelta(hours=8))  # China Standard Time: orders are placed in Chinese office hours
CENT = Decimal("0.01")
# Past orders come from the manufacturer's previous system: their history says so, and they carry
# no decision record of ours (every order placed on the platform gets one).
HISTORY = "imported history"

DEALER_PASSWORD = "dealer123"
MANAGER_PASSWORD = "manager123"  # every account manager (am_<region>_<n>) logs in with it
# (username, password, role, note): for the README and the `dealerflow dev` banner.
DEMO_LOGINS: list[tuple[str, str, str, str]] = [
    ("admin", "admin1234", "admin", "business admin: rule files, users, everything"),
    ("hq", "hq123456", "hq", "headquarters: every dealer, policies, reports"),
    ("approver", "approver123", "credit_manager", "reviews orders sent to a human (over the limit)"),
    ("finance", "finance123", "finance", "records deliveries, returns and payments; settles rebates"),
    ("am_east_1", MANAGER_PASSWORD, "account_manager", "account manager of d0001 and its region peers; gets "
                                                       "escalations about silent dealers"),
    ("d0001", DEALER_PASSWORD, "dealer", "level-1 core dealer in Hangzhou; parent of d0002"),
    ("d0002", DEALER_PASSWORD, "dealer", "level-2 dealer under d0001; every dealer logs in "
                                         "with its lower-case code and dealer123"),
]
_STAFF = [(u, p, r) for u, p, r, _ in DEMO_LOGINS if r != "dealer"]

# code -> (English name, Chinese name, share of dealers, cities)
REGIONS: dict[str, tuple[str, str, float, tuple[str, ...]]] = {
    "east": ("East China", "华东", 0.26, (
        "Hangzhou", "Shanghai", "Suzhou", "Nanjing", "Ningbo", "Wuxi", "Hefei", "Fuzhou", "Xiamen",
        "Jinan", "Qingdao", "Wenzhou", "Nanchang", "Changzhou", "Shaoxing", "Jiaxing", "Yantai", "Linyi")),
    "south": ("South China", "华南", 0.20, (
        "Guangzhou", "Shenzhen", "Foshan", "Dongguan", "Zhuhai", "Shantou", "Nanning", "Liuzhou",
        "Haikou", "Zhongshan", "Huizhou", "Jiangmen", "Guilin")),
    "north": ("North China", "华北", 0.15, (
        "Beijing", "Tianjin", "Shijiazhuang", "Taiyuan", "Baoding", "Tangshan", "Hohhot", "Langfang",
        "Handan", "Datong", "Baotou")),
    "central": ("Central China", "华中", 0.16, (
        "Wuhan", "Changsha", "Zhengzhou", "Yichang", "Xiangyang", "Luoyang", "Zhuzhou", "Hengyang",
        "Nanyang", "Kaifeng", "Yueyang")),
    "southwest": ("Southwest China", "西南", 0.13, (
        "Chengdu", "Chongqing", "Kunming", "Guiyang", "Mianyang", "Zunyi", "Yibin", "Nanchong", "Dali",
        "Leshan")),
    "northeast": ("Northeast China", "东北", 0.10, (
        "Shenyang", "Dalian", "Changchun", "Harbin", "Jilin", "Anshan", "Daqing", "Qiqihar", "Jinzhou")),
}

_BRANDS = (
    "Mingjia", "Jinhui", "Huamei", "Xinyuan", "Hongda", "Yijia", "Baisheng", "Ruifeng", "Tianyi",
    "Jiahe", "Longsheng", "Anju", "Meilin", "Shengshi", "Fuxing", "Haoyu", "Zhongtai", "Kaiyuan",
    "Lixin", "Hengtong", "Yuxiang", "Dongfang", "Xinghe", "Jiacheng", "Yongan", "Huaxia", "Deli",
    "Shunfa", "Jinma", "Boya", "Junhao", "Wanjia", "Lanting", "Qiaoyi", "Zhenpin", "Mingyang",
)

# Category mix of a dealer's orders: (door, window, cabinet) weights, how common, name words.
_SPECIALTIES = {
    "generalist": ((0.40, 0.35, 0.25), 0.40, ("Home Furnishing", "Building Materials", "Home Living",
                                               "Doors & Windows")),
    "window": ((0.08, 0.84, 0.08), 0.20, ("Windows", "Window Systems", "Doors & Windows")),
    "door": ((0.78, 0.10, 0.12), 0.15, ("Doors", "Door Industry", "Doors & Windows")),
    "door_window": ((0.47, 0.47, 0.06), 0.15, ("Doors & Windows",)),
    "cabinet": ((0.08, 0.07, 0.85), 0.10, ("Cabinetry", "Kitchen & Wardrobe", "Custom Cabinets")),
}
CATEGORIES = ("door", "window", "cabinet")

# (sku, name, lowest price, highest price) per unit in yuan.
CATALOGUE: tuple[tuple[str, str, int, int], ...] = (
    ("DR-SOLID-OAK-01", "Solid oak interior door", 3200, 4800),
    ("DR-SOLID-OAK-02", "Solid oak double interior door", 4600, 6000),
    ("DR-SOLID-WAL-01", "Solid walnut interior door", 4200, 5900),
    ("DR-VENEER-ASH-01", "Ash veneer flush door", 1200, 2000),
    ("DR-MDF-PNT-01", "Painted MDF interior door", 800, 1300),
    ("DR-MDF-PNT-02", "Painted MDF shaker door", 900, 1500),
    ("DR-SEC-STL-01", "Steel security entry door", 2800, 4500),
    ("DR-SEC-STL-02", "Armoured entry door, grade C lock", 4200, 5900),
    ("DR-ENT-CAST-01", "Cast aluminium villa entry door", 5000, 6000),
    ("DR-ALU-SLD-01", "Aluminium slimline sliding door", 1800, 3000),
    ("DR-ALU-SLD-02", "Aluminium sliding door, double glazed", 2400, 3600),
    ("DR-GLS-FOLD-01", "Glass folding door", 2200, 3500),
    ("DR-GLS-SWG-01", "Frameless glass swing door", 1500, 2600),
    ("DR-BARN-PINE-01", "Pine barn door with track", 1300, 2200),
    ("DR-POCKET-01", "Pocket door with concealed frame", 1600, 2600),
    ("DR-FIRE-A60-01", "Fire-rated steel door (A60)", 2600, 3800),
    ("DR-BATH-WPC-01", "WPC waterproof bathroom door", 900, 1400),
    ("DR-CMP-SNDP-01", "Soundproof composite door", 1400, 2300),
    ("DR-KIDS-PNT-01", "Rounded-edge children's room door", 1100, 1700),
    ("DR-WIN-GRV-01", "Oak door with glass vision panel", 2600, 3900),
    ("WN-BRK-CAS-01", "Thermal-break aluminium casement window", 1200, 2200),
    ("WN-BRK-CAS-02", "Thermal-break casement window, triple glazed", 1800, 2900),
    ("WN-BRK-SLD-01", "Thermal-break aluminium sliding window", 900, 1600),
    ("WN-UPVC-TT-01", "uPVC tilt-and-turn window", 800, 1400),
    ("WN-UPVC-SLD-01", "uPVC sliding window", 500, 900),
    ("WN-UPVC-CAS-01", "uPVC casement window", 650, 1100),
    ("WN-UPVC-CAS-02", "uPVC casement window, woodgrain foil", 750, 1250),
    ("WN-PH-TRP-01", "Passive-house triple-glazed window", 2800, 4000),
    ("WN-ALU-TOP-01", "Aluminium top-hung window", 700, 1200),
    ("WN-BAY-01", "Aluminium bay window", 2600, 3900),
    ("WN-SKY-01", "Roof skylight", 1900, 3200),
    ("WN-SCR-CAS-01", "Casement window with integrated insect screen", 1100, 1800),
    ("WN-BALC-SLD-01", "Balcony sliding window system", 1500, 2500),
    ("WN-WOOD-ALU-01", "Wood-clad aluminium window", 2900, 4000),
    ("WN-ACOUSTIC-01", "Acoustic laminated-glass window", 1600, 2600),
    ("WN-SUNROOM-01", "Sunroom glazing panel", 2200, 3500),
    ("WN-LOWE-CAS-01", "Low-E insulated glass casement window", 1300, 2100),
    ("WN-GUARD-01", "Child-safety window guard", 500, 800),
    ("WN-FIXED-01", "Fixed picture window", 600, 1100),
    ("CB-KIT-BASE-01", "Kitchen base cabinet, 80 cm", 2000, 3200),
    ("CB-KIT-WALL-01", "Kitchen wall cabinet, 80 cm", 2000, 2800),
    ("CB-KIT-SINK-01", "Sink base unit, stainless steel", 2200, 3200),
    ("CB-KIT-CORNER-01", "Corner carousel unit", 2600, 4000),
    ("CB-KIT-TALL-01", "Kitchen tall pantry unit", 3800, 5800),
    ("CB-KIT-SET-01", "Full kitchen set, modern lacquer", 11000, 15000),
    ("CB-KIT-SET-02", "Full kitchen set, solid wood", 12500, 15000),
    ("CB-KIT-ISL-01", "Kitchen island with quartz top", 7800, 12000),
    ("CB-QTZ-TOP-01", "Quartz countertop, per metre", 2000, 3500),
    ("CB-WRD-2D-01", "Two-door wardrobe", 3500, 5500),
    ("CB-WRD-4D-01", "Four-door wardrobe", 6500, 9800),
    ("CB-WRD-WALK-01", "Walk-in wardrobe system", 9800, 15000),
    ("CB-BATH-VAN-01", "Bathroom vanity, 80 cm", 2200, 3800),
    ("CB-BATH-VAN-02", "Double-basin bathroom vanity", 4200, 6800),
    ("CB-SHOE-01", "Entryway shoe cabinet", 2000, 3500),
    ("CB-TV-01", "TV wall unit", 3500, 6200),
    ("CB-BOOK-01", "Study bookcase wall", 4800, 8500),
    ("CB-TATAMI-01", "Tatami platform with storage", 6500, 11000),
    ("CB-BAL-01", "Balcony laundry cabinet", 2400, 4000),
    ("CB-WINE-01", "Wine display cabinet", 5200, 9000),
)
_CATEGORY_OF_PREFIX = {"DR": "door", "WN": "window", "CB": "cabinet"}
# Units per order line: (low, high, mode) before the dealer's scale.
_QUANTITY = {"door": (1, 24, 4), "window": (2, 48, 8), "cabinet": (1, 8, 2)}

TIERS = ("core", "key", "normal")
# Tier weights by level, so that overall ≈ core 10%, key 30%, normal 60%.
_TIER_WEIGHTS = {1: (13, 35, 52), 2: (1, 15, 84)}
_RATING_WEIGHTS = {"core": (45, 40, 12, 3), "key": (30, 45, 20, 5), "normal": (20, 38, 29, 13)}
_CREDIT_LIMIT = {"core": (800_000, 2_000_000), "key": (300_000, 1_200_000), "normal": (50_000, 500_000)}
_OVER_LIMIT_CHANCE = {"A": 0.01, "B": 0.03, "C": 0.08, "D": 0.25}
# (chance of > 90 days overdue, chance of 1-60 days)
_OVERDUE = {"A": (0.0, 0.05), "B": (0.01, 0.15), "C": (0.05, 0.35), "D": (0.40, 0.40)}
# Days from delivery to payment (low, high) by rating: the ledger's late payers (credit scoring).
_PAID_AFTER_DAYS = {"A": (1, 28), "B": (3, 40), "C": (10, 60), "D": (30, 150)}
# Orders a month (low, high) by tier; level-2 dealers order as often, but smaller quantities.
_ORDERS_PER_MONTH = {"core": (2, 6), "key": (2, 5), "normal": (0, 2)}
_SCALE = {"core": 1.6, "key": 1.0, "normal": 0.7}
# Spring and autumn building seasons, the Chinese New Year dip in January and February.
SEASON = {1: 0.55, 2: 0.35, 3: 1.15, 4: 1.35, 5: 1.25, 6: 0.95, 7: 0.8, 8: 0.85, 9: 1.25, 10: 1.35,
          11: 1.15, 12: 0.95}
SILENT_SHARE = 0.10
SILENT_MONTHS = 6
_SLOT_DAYS = 30  # twelve 30-day slots (the last one 35 days) cover the year before `today`
RETURN_SHARE = 0.03  # delivered orders with part of a line sent back
SPLIT_PAYMENT_SHARE = 0.15  # completed orders paid in two instalments (a deposit, then the rest)
_RETURN_REASONS = ("damaged in transport", "wrong colour delivered", "installation defect",
                   "surplus stock sent back")


class DemoDataError(RuntimeError):
    """The database is not empty (or the arguments make no dataset)."""


@dataclass(frozen=True)
class DemoSummary:
    dealers: int
    products: int
    users: int
    orders: int
    lines: int
    regions: int
    events: int = 0
    returns: int = 0
    payments: int = 0
    # Codes of the dealers with no order in the last six months (沉默经销商).
    silent_dealers: tuple[str, ...] = field(default=(), repr=False)


@dataclass
class _Dealer:
    code: str
    level: int
    region: str
    tier: str = "normal"
    rating: str = "C"
    specialty: str = "generalist"
    parent: "_Dealer | None" = None
    silent: bool = False
    row: dict = field(default_factory=dict)


def seed_demo(session: Session, *, dealers: int = 600, seed: int = DEFAULT_SEED,
              today: date | None = None) -> DemoSummary:
    """Fill an empty database with the demo dataset; the caller commits. Prints nothing."""
    if dealers < 1:
        raise DemoDataError(f"dealers must be at least 1, got {dealers}")
    existing = session.scalar(select(func.count()).select_from(Dealer))
    if existing:
        raise DemoDataError(f"the demo dataset needs an empty database, but it already has {existing} "
                            f"dealers; start from a fresh database (e.g. `dealerflow dev --reset`)")
    taken = session.scalars(select(User.username).where(User.username.in_([u for u, _, _ in _STAFF]))).all()
    if taken:
        raise DemoDataError(f"the demo dataset needs an empty database, but users {sorted(taken)} exist")
    today = today or date.today()
    rng = random.Random(seed)

    products = _seed_products(session, rng, today)
    plan = _plan_dealers(rng, dealers, today)
    _tag_dealers(random.Random(seed + 1), plan)
    _describe_dealers(random.Random(seed + 2), plan, today)
    dealer_ids = _insert_dealers(session, plan)
    user_ids = _seed_users(session, plan, dealer_ids)
    _seed_regions(session, plan, user_ids)
    n = _seed_orders(session, rng, plan, dealer_ids, user_ids, products, today)
    _seed_stock(session, random.Random(seed + 2), products)
    return DemoSummary(
        dealers=len(plan), products=len(products), users=len(user_ids), orders=n["orders"], lines=n["lines"],
        regions=len({d.region for d in plan}), events=n["events"], returns=n["returns"], payments=n["payments"],
        silent_dealers=tuple(d.code for d in plan if d.silent))


# --- stock ----------------------------------------------------------------------------------------

WAREHOUSES = (("FS-01", "佛山总仓 Foshan central", "south"), ("HZ-01", "杭州仓 Hangzhou", "east"),
              ("CD-01", "成都仓 Chengdu", "southwest"))
SHORT_SKUS = 2  # SKUs the warehouses hold too little of: approved orders wait for them


def _seed_stock(session: Session, rng: random.Random, products: list["_Product"]) -> None:
    """HQ's warehouses with stock of every SKU as the ERP counts it; the approved orders (still to
    ship) hold what they need, and a few SKUs are short, so their orders wait in the queue."""
    ids = [session.execute(insert(Warehouse).values(code=c, name=n, region=r).returning(Warehouse.id)).scalar_one()
           for c, n, r in WAREHOUSES]
    wanted: dict[int, list[tuple]] = {}
    for order_id, line_no, product_id, quantity in session.execute(
            select(OrderLine.order_id, OrderLine.line_no, OrderLine.product_id, OrderLine.quantity)
            .join(Order, Order.id == OrderLine.order_id).where(Order.status == "approved")
            .order_by(Order.created_at, OrderLine.line_no)):
        wanted.setdefault(product_id, []).append((order_id, line_no, quantity))
    ordered = [p for p in products if wanted.get(p.id)]  # short only where orders wait for it
    short = {p.id for p in rng.sample(ordered, min(SHORT_SKUS, len(ordered)))}
    stock, allocations = [], []
    for p in products:
        demand = sum(q for _, _, q in wanted.get(p.id, []))
        total = max(demand // 2, 0) if p.id in short else demand + rng.randrange(20, 400)
        on_hand = [total // len(ids) + (1 if i < total % len(ids) else 0) for i in range(len(ids))]
        free = list(on_hand)
        for order_id, line_no, quantity in wanted.get(p.id, []):
            need = quantity
            for i, wid in enumerate(ids):
                take = min(need, free[i])
                if take:
                    free[i] -= take
                    need -= take
                    allocations.append(dict(order_id=order_id, line_no=line_no, product_id=p.id, warehouse_id=wid,
                                            quantity=take, status="reserved", priority=50))
            if need:
                allocations.append(dict(order_id=order_id, line_no=line_no, product_id=p.id, warehouse_id=None,
                                        quantity=need, status="backordered", priority=50))
        stock += [dict(warehouse_id=wid, product_id=p.id, on_hand=on_hand[i], reserved=on_hand[i] - free[i])
                  for i, wid in enumerate(ids)]
    session.execute(insert(Stock), stock)
    for chunk in _chunks(allocations):
        session.execute(insert(StockAllocation), list(chunk))


# --- catalogue ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Product:
    id: int
    sku: str
    category: str
    unit_price: Decimal


def _seed_products(session: Session, rng: random.Random, today: date) -> list[_Product]:
    created = datetime.combine(today - timedelta(days=730), time(9), CST)
    rows = []
    for sku, name, low, high in CATALOGUE:
        # Retail-style prices ending in 8 (1,288.00, 3,998.00).
        price = Decimal(rng.randrange(low // 10, high // 10) * 10 + 8).quantize(CENT)
        rows.append(dict(sku=sku, name=name, category=_CATEGORY_OF_PREFIX[sku[:2]], unit_price=price,
                         created_at=created))
    ids = {sku: id_ for id_, sku in session.execute(
        insert(Product.__table__).returning(Product.id, Product.sku), rows)}
    return [_Product(ids[r["sku"]], r["sku"], r["category"], r["unit_price"]) for r in rows]


# --- dealers --------------------------------------------------------------------------------------

def _plan_dealers(rng: random.Random, n: int, today: date) -> list[_Dealer]:
    level2 = n // 4 if n >= 2 else 0
    levels = [1] * (n - level2) + [2] * level2
    # D0001 is a level-1 core dealer in Hangzhou and D0002 its level-2 dealer: the demo logins.
    rest = levels[1:]
    if level2:
        rest.remove(2)
    rng.shuffle(rest)
    levels = [1] + ([2] if level2 else []) + rest
    plan = [_Dealer(code=f"D{i + 1:04d}", level=level, region="") for i, level in enumerate(levels)]

    region_codes = list(REGIONS)
    region_weights = [REGIONS[r][2] for r in region_codes]
    specialties = list(_SPECIALTIES)
    specialty_weights = [_SPECIALTIES[s][1] for s in specialties]
    level1 = [d for d in plan if d.level == 1]
    for d in level1:
        d.region = rng.choices(region_codes, region_weights)[0]
    plan[0].region = "east"
    by_region: dict[str, list[_Dealer]] = {}
    for d in level1:
        by_region.setdefault(d.region, []).append(d)
    for d in plan:
        if d.level == 2:
            d.parent = plan[0] if d is plan[1] else rng.choice(level1)
            d.region = d.parent.region

    am_count = {r: max(1, math.ceil(len(ds) / 20)) for r, ds in by_region.items()}
    used_names: set[str] = set()
    for d in plan:
        d.tier = rng.choices(TIERS, _TIER_WEIGHTS[d.level])[0]
        if d is plan[0]:
            d.tier = "core"
        d.rating = rng.choices("ABCD", _RATING_WEIGHTS[d.tier])[0]
        if d is plan[0]:
            d.rating = "A"
        d.specialty = rng.choices(specialties, specialty_weights)[0]
        if d is plan[0]:
            d.specialty = "door_window"

    for d in plan:
        city = "Hangzhou" if d is plan[0] else rng.choice(REGIONS[d.region][3])
        name = ""
        for _ in range(30):
            name = f"{city} {rng.choice(_BRANDS)} {rng.choice(_SPECIALTIES[d.specialty][2])}"
            if name not in used_names:
                break
        else:
            name = f"{name} {d.code}"
        used_names.add(name)

        low, high = _CREDIT_LIMIT[d.tier]
        if d.level == 2:
            high = min(high, 300_000) if d.tier == "normal" else high // 2
            low = min(low, high)
        limit = rng.randrange(low // 5000, high // 5000 + 1) * 5000
        limit = {"A": limit, "B": limit, "C": limit * 8 // 10, "D": limit // 2}[d.rating]
        limit = max(50_000, limit // 5000 * 5000)
        limit_cents = limit * 100
        if rng.random() < _OVER_LIMIT_CHANCE[d.rating]:
            outstanding_cents = int(limit_cents * rng.uniform(1.01, 1.35))
        else:
            outstanding_cents = min(int(limit_cents * rng.triangular(0.0, 0.9, 0.3)), limit_cents - 100)
        over90, some = _OVERDUE[d.rating]
        roll = rng.random()
        overdue = rng.randint(91, 240) if roll < over90 else rng.randint(1, 60) if roll < over90 + some else 0
        if d is plan[0]:  # the demo dealer places orders that pass the credit rules
            overdue, outstanding_cents = 0, min(outstanding_cents, limit_cents * 4 // 10)
        if d.level == 1:
            account_manager = f"am_{d.region}_{rng.randint(1, am_count[d.region])}"
        else:
            account_manager = None  # set from the parent below
        # Cooperation since 1-10 years ago: a level-2 dealer joined after its parent.
        joined = rng.randint(400, 3650)
        d.row = dict(code=d.code, name=name, region=d.region, level=d.level, tier=d.tier,
                     credit_limit=Decimal(limit_cents).scaleb(-2), outstanding=Decimal(outstanding_cents).scaleb(-2),
                     rating=d.rating, overdue_days=overdue, account_manager=account_manager,
                     created_at=datetime.combine(today - timedelta(days=joined), time(9), CST),
                     cooperation_since=today - timedelta(days=joined))
    for d in plan:
        if d.parent is not None:
            d.row["account_manager"] = d.parent.row["account_manager"]
            parent_joined = d.parent.row["created_at"]
            if d.row["created_at"] < parent_joined:
                d.row["created_at"] = parent_joined + timedelta(days=rng.randint(30, 365))
                d.row["created_at"] = min(d.row["created_at"],
                                          datetime.combine(today - timedelta(days=370), time(9), CST))
                d.row["cooperation_since"] = d.row["created_at"].date()

    # Silent dealers (沉默经销商): ~10% with no order in the last six months; not the demo logins.
    candidates = plan[2:] if len(plan) > 2 else []
    for d in rng.sample(candidates, min(len(candidates), round(SILENT_SHARE * n))):
        d.silent = True
    return plan


def _tag_dealers(rng: random.Random, plan: list[_Dealer]) -> None:
    """Tags and channel types that policies target (a rural dealer is not sent a high-end offer)."""
    for d in plan:
        tags = set()
        if d.specialty in ("window", "door_window"):
            tags.add("window_specialist")
        if d.specialty == "cabinet":
            tags.add("cabinet_specialist")
        if rng.random() < (0.7 if d.level == 2 else 0.3) or d is plan[0]:
            tags.add("retail_terminal")
        if rng.random() < 0.25 and d is not plan[0]:
            tags.add("rural_market")
        if rng.random() < 0.1:
            tags.add("high_growth")
        d.row["tags"] = sorted(tags)
        d.row["channel"] = (rng.choices(["wholesale", "retail", "engineering"], [40, 45, 15])[0] if d.level == 1
                            else rng.choices(["retail", "ecommerce"], [85, 15])[0])
        if d is plan[0] or d.parent is plan[0]:
            d.row["account_manager"] = "am_east_1"


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
_TITLES = ("经理", "总", "女士", "先生")
_PAYMENT_TERMS = {"core": (60, 90), "key": (45, 60), "normal": (30, 45), "watch": (15, 30)}
SUSPENDED = 4  # dealers whose cooperation is suspended (no new orders), one more ended


def _describe_dealers(rng: random.Random, plan: list[_Dealer], today: date) -> None:
    """Master data a manufacturer keeps about each dealer: legal name, city, contact person with phone and
    birthday (a few today and tomorrow, for the birthday greetings), payment terms, and a few dealers
    whose cooperation is suspended or ended."""
    for i, d in enumerate(plan):
        d.row["legal_name"] = f"{d.row['name']} Co., Ltd."
        d.row["city"] = d.row["name"].split(" ")[0]
        d.row["contact_name"] = rng.choice(_SURNAMES) + rng.choice(_TITLES)
        d.row["contact_phone"] = f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"
        if i in (0, 3):
            birthday = today
        elif i in (1, 4):
            birthday = today + timedelta(days=1)
        else:
            birthday = today - timedelta(days=rng.randint(0, 364))
        try:
            d.row["contact_birthday"] = birthday.replace(year=birthday.year - rng.randint(28, 58))
        except ValueError:  # 29 February
            d.row["contact_birthday"] = date(birthday.year - 30, 2, 28)
        d.row["payment_terms_days"] = rng.choice(_PAYMENT_TERMS.get(d.tier, (30, 45)))
        d.row["status"] = "active"
    quiet = [d for d in plan[5:] if not d.silent and d.level == 1]
    for d in rng.sample(quiet, min(len(quiet), SUSPENDED + 1)):
        d.row["status"] = "suspended"
    if quiet:
        next(d for d in plan[5:] if d.row["status"] == "suspended").row["status"] = "ended"


def _seed_regions(session: Session, plan: list[_Dealer], user_ids: dict[str, int]) -> None:
    """The regions with their Chinese names and their account managers."""
    codes = sorted({d.region for d in plan})
    session.execute(pg_insert(Region.__table__).on_conflict_do_nothing(),
                    [{"code": c, "name": REGIONS[c][1]} for c in codes])
    pairs = sorted({(d.region, d.row["account_manager"]) for d in plan if d.row.get("account_manager")})
    rows = [{"region_code": r, "user_id": user_ids[m]} for r, m in pairs if m in user_ids]
    if rows:
        session.execute(pg_insert(RegionManager.__table__).on_conflict_do_nothing(), rows)


def _insert_dealers(session: Session, plan: list[_Dealer]) -> dict[str, int]:
    table = Dealer.__table__
    ids: dict[str, int] = {}
    for level in (1, 2):  # parents first, for the foreign key
        rows = []
        for d in plan:
            if d.level == level:
                rows.append(dict(d.row, parent_id=ids[d.parent.code] if d.parent else None))
        for chunk in _chunks(rows):
            ids.update({code: id_ for id_, code in session.execute(
                insert(table).returning(table.c.id, table.c.code), chunk)})
    return ids


def _seed_users(session: Session, plan: list[_Dealer], dealer_ids: dict[str, int]) -> dict[str, int]:
    rows = [dict(username=u, password_hash=hash_password(p), role=r, dealer_id=None) for u, p, r in _STAFF]
    dealer_hash = hash_password(DEALER_PASSWORD)  # one bcrypt hash shared by every dealer user
    rows += [dict(username=d.code.lower(), password_hash=dealer_hash, role="dealer",
                  dealer_id=dealer_ids[d.code]) for d in plan]
    manager_hash = hash_password(MANAGER_PASSWORD)
    managers = sorted({d.row["account_manager"] for d in plan} - {None} - {u for u, _, _ in _STAFF})
    rows += [dict(username=m, password_hash=manager_hash, role="account_manager", dealer_id=None) for m in managers]
    table = User.__table__
    ids: dict[str, int] = {}
    for chunk in _chunks(rows):
        ids.update({u: id_ for id_, u in session.execute(
            insert(table).returning(table.c.id, table.c.username), chunk)})
    return ids


# --- order history --------------------------------------------------------------------------------

def _seed_orders(session: Session, rng: random.Random, plan: list[_Dealer], dealer_ids: dict[str, int],
                 user_ids: dict[str, int], products: list[_Product], today: date) -> dict[str, int]:
    """Orders with their lines and status events, returns, payments and ledger entries; returns
    how many rows of each."""
    by_category = {c: [p for p in products if p.category == c] for c in CATEGORIES}
    # Some products sell far better than others.
    popularity = {c: list(_cumulative(rng.uniform(0.3, 3.0) for _ in ps)) for c, ps in by_category.items()}
    end = datetime.combine(today, time(0), CST)  # history stops before `today` starts in China
    slots = [(k * _SLOT_DAYS + 1, 365 if k == 11 else (k + 1) * _SLOT_DAYS) for k in range(12)]
    silent_slots = SILENT_MONTHS + 1  # silent dealers stopped ordering at least seven slots ago

    # In insertion order: orders before the rows that refer to them.
    tables = {"orders": Order.__table__, "lines": OrderLine.__table__, "events": OrderEvent.__table__,
              "returns": OrderReturn.__table__, "payments": Payment.__table__, "entries": None}
    pending: dict[str, list[dict]] = {name: [] for name in tables}
    counts = dict.fromkeys(tables, 0)
    orders, lines, events = pending["orders"], pending["lines"], pending["events"]
    numbers = {"RT": 0, "PAY": 0}  # the last return and payment references given (RT-000001, PAY-000001)

    def flush(final: bool = False) -> None:
        if len(lines) >= CHUNK or final:
            for name, rows in pending.items():
                for chunk in _chunks(rows):
                    if tables[name] is None:
                        accounts.book(session, list(chunk))
                    else:
                        session.execute(insert(tables[name]), chunk)
                counts[name] += len(rows)
                rows.clear()

    for d in plan:
        low, high = _ORDERS_PER_MONTH[d.tier]
        mix = _SPECIALTIES[d.specialty][0]
        scale = _SCALE[d.tier] * (0.6 if d.level == 2 else 1.0)
        first_slot = rng.randint(silent_slots, 11) if d.silent else 0  # slot index, 0 = most recent
        days: list[int] = []
        for k, (near, far) in enumerate(slots):
            if k < first_slot:
                continue
            mid = today - timedelta(days=(near + far) // 2)
            count = int(rng.randint(low, high) * SEASON[mid.month] + rng.random())
            days += [rng.randint(near, far) for _ in range(count)]
        # Every silent dealer ordered once before going quiet; every other dealer in the last six months.
        if d.silent and not days:
            days.append(rng.randint(slots[first_slot][0], 365))
        if not d.silent and not any(day <= SILENT_MONTHS * _SLOT_DAYS for day in days):
            days.append(rng.randint(1, SILENT_MONTHS * _SLOT_DAYS))
        days.sort(reverse=True)  # oldest first

        username = d.code.lower()
        for day in days:
            created = datetime.combine(today - timedelta(days=day),
                                       time(rng.randint(8, 19), rng.randint(0, 59), rng.randint(0, 59)), CST)
            order_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            chosen: set[str] = set()
            first_line = len(lines)
            amount = Decimal("0.00")
            wanted = rng.randint(1, 5)
            for _ in range(3 * wanted):  # distinct SKUs; a retry when a pick repeats one
                if len(chosen) == wanted:
                    break
                category = rng.choices(CATEGORIES, mix)[0]
                product = rng.choices(by_category[category], cum_weights=popularity[category])[0]
                if product.sku in chosen:
                    continue
                chosen.add(product.sku)
                q_low, q_high, q_mode = _QUANTITY[category]
                quantity = max(1, round(rng.triangular(q_low, q_high, q_mode) * scale))
                line_amount = product.unit_price * quantity
                amount += line_amount
                lines.append(dict(order_id=order_id, line_no=len(chosen), product_id=product.id,
                                  sku=product.sku, quantity=quantity, unit_price=product.unit_price,
                                  amount=line_amount))
            history = _history(rng, d, username, created, end)
            times = {status: at.astimezone(timezone.utc) for status, at, _, _ in history}
            order = dict(id=order_id, dealer_id=dealer_ids[d.code], status=history[-1][0],
                         amount=amount, idempotency_key=None, workflow_id=workflow_id_for(order_id),
                         created_by=user_ids[username], created_at=created.astimezone(timezone.utc),
                         updated_at=history[-1][1].astimezone(timezone.utc), shipped_at=times.get("shipped"),
                         delivered_at=times.get("delivered"))
            orders.append(order)
            events += [dict(order_id=order_id, status=status, at=at.astimezone(timezone.utc), actor=actor,
                            note=note) for status, at, actor, note in history]
            if "delivered" in times:
                _settle(rng, numbers, pending, order, lines[first_line:], times, end)
        flush()
    flush(final=True)
    return counts


def _settle(rng: random.Random, numbers: dict[str, int], pending: dict[str, list[dict]], order: dict,
            lines: list[dict], times: dict[str, datetime], end: datetime) -> None:
    """The money side of one delivered order: its delivery on the dealer's account, perhaps a
    return of part of a line within 30 days, and, once completed, the payments that covered it."""
    def booked(at: datetime, kind: str, amount: Decimal, source_type: str, source_id: str, note: str) -> None:
        pending["entries"].append(dict(accounts.entry(
            dealer_id=order["dealer_id"], kind=kind, amount=amount, value_date=accounts.business_date(at),
            source_type=source_type, source_id=source_id, note=note), created_at=at))

    delivered, paid = times["delivered"], times.get("completed")
    booked(delivered, "delivery", order["amount"], "order", str(order["id"]), "order delivered")
    due = order["amount"]
    partial = [line for line in lines if line["quantity"] >= 2]
    if partial and rng.random() < RETURN_SHARE:
        line = rng.choice(partial)
        # Before the payment that settles the order, so the payment covers what was kept.
        window = min(timedelta(days=30), (paid or end) - delivered)
        at = delivered + window * rng.uniform(0.05, 0.95)
        quantity = rng.randint(1, max(1, line["quantity"] // 3))
        numbers["RT"] += 1
        reference = f"RT-{numbers['RT']:06d}"
        amount = line["unit_price"] * quantity
        pending["returns"].append(dict(
            reference=reference, order_id=order["id"], dealer_id=order["dealer_id"], product_id=line["product_id"],
            sku=line["sku"], quantity=quantity, amount=amount, returned_at=at, reason=rng.choice(_RETURN_REASONS),
            recorded_by="previous-system", created_at=at))
        booked(at, "return", amount, "return", reference, f"return of {quantity} × {line['sku']}")
        due -= amount
    if paid is None:
        return  # delivered, not yet paid
    instalments = [(paid, due)]
    if rng.random() < SPLIT_PAYMENT_SHARE:
        deposit = (due * rng.randint(30, 70) / 100).quantize(Decimal("1"))
        instalments = [(times["approved"] + (paid - times["approved"]) * rng.uniform(0.1, 0.9), deposit),
                       (paid, due - deposit)]
    method = rng.choices(("transfer", "acceptance_bill"), (85, 15))[0]
    for at, amount in instalments:
        numbers["PAY"] += 1
        reference = f"PAY-{numbers['PAY']:06d}"
        pending["payments"].append(dict(reference=reference, dealer_id=order["dealer_id"], order_id=order["id"],
                                        amount=amount, paid_at=at, method=method, recorded_by="previous-system",
                                        created_at=at))
        booked(at, "payment", amount, "payment", reference, f"payment {reference}")


def _history(rng: random.Random, d: _Dealer, username: str, created: datetime,
             end: datetime) -> list[tuple[str, datetime, str, str]]:
    """The status history of one past order up to `end`: (status, at, actor, note)."""
    def later(at: datetime, low_minutes: int, high_minutes: int) -> datetime:
        return min(at + timedelta(minutes=rng.randint(low_minutes, high_minutes)), end - timedelta(seconds=1))

    steps = [("submitted", created, username, "order placed")]
    roll = rng.random()
    reject_chance = {"A": 0.005, "B": 0.015, "C": 0.04, "D": 0.12}[d.rating]
    rules = HISTORY
    if roll < reject_chance:
        steps.append(("rejected", later(created, 0, 2), "previous-system", f"{rules}: credit check failed"))
        return steps
    reviewed = roll < reject_chance + {"A": 0.03, "B": 0.06, "C": 0.12, "D": 0.25}[d.rating]
    if reviewed:
        steps.append(("pending_review", later(created, 0, 2), "previous-system",
                      f"{rules}: over the credit limit, sent to review"))
        at = later(steps[-1][1], 30, 26 * 60)
        if rng.random() < 0.2:
            steps.append(("rejected", at, "approver", "review: rejected — settle overdue receivables first"))
            return steps
        steps.append(("approved", at, "approver", "review: approved"))
    else:
        steps.append(("approved", later(created, 0, 2), "previous-system", f"{rules}: within the credit limit"))
    if rng.random() < 0.04:
        steps.append(("cancelled", later(steps[-1][1], 60, 5 * 24 * 60), username, "cancelled by the dealer"))
        return steps
    # Shipped 1-5 days after approval, delivered 1-7 days later, paid after delivery as the dealer's
    # rating has it (A within the 30 days' terms, D up to months late): the latest orders are still on
    # their way, or delivered and not yet paid, on `today`; a late payer's older ones too.
    shipped = steps[-1][1] + timedelta(minutes=rng.randint(24 * 60, 5 * 24 * 60))
    delivered = shipped + timedelta(minutes=rng.randint(24 * 60, 7 * 24 * 60))
    low, high = _PAID_AFTER_DAYS[d.rating]
    paid = delivered + timedelta(minutes=rng.randint(low * 24 * 60, high * 24 * 60))
    for status, at, actor, note in (("shipped", shipped, "warehouse", "shipped"),
                                    ("delivered", delivered, "logistics", "delivered; receipt confirmed by the dealer"),
                                    ("completed", paid, "finance", "paid in full")):
        if at >= end:
            break
        steps.append((status, at, actor, note))
    return steps


def _cumulative(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _chunks(rows: Sequence[dict], size: int = CHUNK) -> Iterable[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# --- policy responses -------------------------------------------------------------------------------

DEMO_POLICIES = ("new_door_training", "spring_window_display")
_DEMO_LOGIN_DEALERS = ("D0001", "D0002")  # left for the person trying the demo


def simulate_acknowledgments(session: Session, policy_id: str, *, share: float = 0.6,
                             seed: int = DEFAULT_SEED) -> int:
    """Dealers answering a freshly delivered demo policy: `share` of them acknowledge now, the rest
    stay silent and get chased. Goes through `policies.acknowledge`, as a dealer's click does."""
    from dealerflow.models import PolicyTarget
    from dealerflow.policies.rollout import acknowledge

    rng = random.Random(f"{seed}:{policy_id}")
    rows = session.execute(select(PolicyTarget.dealer_id, PolicyTarget.delivered_at).join(Dealer)
                           .where(PolicyTarget.policy_id == policy_id, PolicyTarget.delivered_at.is_not(None),
                                  Dealer.code.not_in(_DEMO_LOGIN_DEALERS))
                           .order_by(PolicyTarget.dealer_id)).all()
    answered = [r for r in rows if rng.random() < share]
    now = datetime.now(timezone.utc)
    for dealer_id, _ in answered:
        acknowledge(session, policy_id=policy_id, dealer_id=dealer_id, now=now)
    return len(answered)


# --- rebate settlement ------------------------------------------------------------------------------

def demo_runs(session: Session, today: date) -> list:
    """The settlement runs a first demo starts: for each rebate program, the final run of the last
    period that has ended and, inside the current period, the interim run of the last month."""
    plans = []
    for _, spec in programs(session):
        plans.append(plan_run(spec, period_key=last_closed(spec.period, today).key, today=today))
        if spec.interim:
            part = last_closed(spec.interim, today)
            try:
                plans.append(plan_run(spec, period_key=period_of(spec.period, part.end).key, upto_key=part.key,
                                      today=today))
            except SettlementError:  # that part closed the period: the final run above covers it
                pass
    return plans


def simulate_statement_answers(session: Session, run_id: str, *, share: float = 0.5,
                               seed: int = DEFAULT_SEED) -> tuple[int, int]:
    """Dealers answering their statements: `share` confirm, one disputes, the rest stay silent (and
    are confirmed at the deadline). Goes through `settlement.confirm`/`dispute`, as a dealer's
    click does. Returns (confirmed, disputed)."""
    rng = random.Random(f"{seed}:{run_id}")
    rows = session.execute(select(Statement.id, Statement.dealer_id, Dealer.code).join(Dealer)
                           .where(Statement.run_id == run_id, Statement.current,
                                  Dealer.code.not_in(_DEMO_LOGIN_DEALERS)).order_by(Statement.dealer_id)).all()
    now = datetime.now(timezone.utc)
    confirmed = disputed = 0
    for statement_id, dealer_id, code in rows:
        if not disputed:
            dispute(session, statement_id=statement_id, dealer_id=dealer_id, now=now,
                    reason="A return of 2 windows in the last week of the period is missing from this statement.")
            disputed += 1
        elif rng.random() < share:
            confirm(session, statement_id=statement_id, dealer_id=dealer_id, actor=code.lower(), now=now)
            confirmed += 1
    return confirmed, disputed


# --- anti-diversion ------------------------------------------------------------------------------------

DEMO_CODE_BATCH = "DEMO-WN-01"
_DEMO_CODE_SKU = "WN-UPVC-CAS-01"
_CODES_PER_DEALER = 100


def demo_scans(session: Session, *, seed: int = DEFAULT_SEED, now: datetime | None = None) -> list[dict]:
    """Guide prices for the catalogue, a batch of window codes shipped by one dealer of each region,
    and a day of scans from the market (returned, for the caller to send as a batch): most in the
    region the codes were shipped to, at about the guide price; a dozen of one dealer's windows sold in
    another region well under it — one open case, with an out-of-region and a price trigger."""
    rng = random.Random(f"{seed}:scans")
    now = now or datetime.now(timezone.utc)
    session.execute(update(Product).where(Product.guide_price.is_(None))
                    .values(guide_price=func.round(Product.unit_price * 3 / 2, -1) + 8))
    guide = session.scalar(select(Product.guide_price).where(Product.sku == _DEMO_CODE_SKU))
    shippers = session.execute(
        select(Dealer.code, Dealer.region).distinct(Dealer.region)
        .where(Dealer.level == 1, Dealer.code.not_in(_DEMO_LOGIN_DEALERS)).order_by(Dealer.region, Dealer.code)).all()
    register(session, sku=_DEMO_CODE_SKU, batch_no=DEMO_CODE_BATCH, count=_CODES_PER_DEALER * len(shippers),
             actor="system")
    codes: dict[str, list[str]] = {}
    for i, (code, _) in enumerate(shippers):
        bind(session, actor="system", now=now - timedelta(days=20), batch_no=DEMO_CODE_BATCH,
             first=i * _CODES_PER_DEALER + 1, last=(i + 1) * _CODES_PER_DEALER, dealer_code=code)
        codes[code] = session.scalars(select(ProductCode.code).where(ProductCode.dealer_id == select(Dealer.id).where(
            Dealer.code == code).scalar_subquery()).order_by(ProductCode.serial)).all()
    rows = []
    for code, region in shippers:
        for unit in rng.sample(codes[code], 40):
            price = (guide * Decimal(rng.randint(88, 100)) / 100).quantize(CENT) if rng.random() < 0.5 else None
            rows.append((unit, region, price))
    diverter, home = shippers[0]
    away = next(region for _, region in shippers if region != home)
    for unit in codes[diverter][-12:]:
        rows.append((unit, away, (guide * Decimal("0.65")).quantize(CENT)))
    rng.shuffle(rows)
    return [{"scan_id": f"demo-{n:05d}", "code": unit, "region": region, "kind": ("store", "consumer")[n % 2],
             "scanned_at": (now - timedelta(hours=24) * (1 - n / len(rows))).isoformat(),
             **({"price": f"{price:.2f}"} if price is not None else {})}
            for n, (unit, region, price) in enumerate(rows)]


# --- history from the previous ERP ------------------------------------------------------------------

def demo_history(session: Session, *, seed: int = DEFAULT_SEED, today: date | None = None,
                 dealers: Sequence[str] | None = None) -> bytes:
    """The ERP's export of the year before the demo's orders (what a manufacturer brings along when it
    starts on the platform), as the CSV the order-history import reads: one row per order line with
    the order's columns repeated, then a row per return and per payment. Completed orders are paid in
    full, a few delivered ones still owe and had one unit returned, a few were cancelled. `dealers`:
    the dealer codes (default: every dealer)."""
    today = today or date.today()
    rng = random.Random(seed + 13)
    codes = list(dealers) if dealers is not None else list(session.scalars(select(Dealer.code).order_by(Dealer.code)))
    products = session.execute(select(Product.sku, Product.unit_price).order_by(Product.sku)).all()
    first = datetime.combine(today - timedelta(days=730), time(9), CST)
    out = io.StringIO()
    writer = csv.DictWriter(out, ("record", "order_ref", "dealer", "status", "placed_at", "shipped_at", "delivered_at",
                                  "sku", "quantity", "unit_price", "reference", "returned_at", "reason", "amount",
                                  "paid_at"), lineterminator="\n")
    writer.writeheader()
    after: list[dict] = []  # returns and payments, after the lines
    for code in codes:
        for _ in range(rng.randint(2, 6)):
            ref = f"ERP-SO-{uuid.UUID(int=rng.getrandbits(128)).hex[:10].upper()}"
            placed = first + timedelta(days=rng.randrange(0, 330), minutes=rng.randrange(0, 480))
            shipped = placed + timedelta(days=rng.randint(1, 3))
            delivered = shipped + timedelta(days=rng.randint(1, 5))
            status = rng.choices(("completed", "delivered", "cancelled"), (85, 10, 5))[0]
            order = dict(order_ref=ref, dealer=code, status=status, placed_at=placed.isoformat(),
                         shipped_at="" if status == "cancelled" else shipped.isoformat(),
                         delivered_at="" if status == "cancelled" else delivered.isoformat())
            amount = Decimal("0")
            for sku, price in rng.sample(products, rng.randint(1, 4)):
                quantity = rng.randint(2, 30)
                price = (price * Decimal(rng.choice(("1", "1", "0.95", "0.9")))).quantize(CENT)
                amount += price * quantity
                writer.writerow(dict(order, record="line", sku=sku, quantity=quantity, unit_price=price))
            if status == "completed":
                after.append(dict(record="payment", order_ref=ref, reference=f"ERP-PAY-{ref[7:]}", amount=amount,
                                  paid_at=(delivered + timedelta(days=rng.randint(5, 40))).isoformat()))
            elif status == "delivered":
                after.append(dict(record="return", order_ref=ref, sku=sku, quantity=1, reference=f"ERP-RT-{ref[7:]}",
                                  returned_at=(delivered + timedelta(days=3)).isoformat(), reason="运输破损"))
    writer.writerows(after)
    return out.getvalue().encode("utf-8-sig")
# --- logistics --------------------------------------------------------------------------------------

# (hours since the parcel left, signed somewhere else): tracks the fixture provider makes for the demo.
_DEMO_TRACKS = ((40, None), (28, None), (10, None))
_DEMO_PLACES = {"Hangzhou": ("浙江省", "杭州市"), "Shanghai": ("上海市", "上海市"), "Suzhou": ("江苏省", "苏州市"),
                "Nanjing": ("江苏省", "南京市"), "Ningbo": ("浙江省", "宁波市"), "Wuxi": ("江苏省", "无锡市"),
                "Hefei": ("安徽省", "合肥市"), "Fuzhou": ("福建省", "福州市"), "Xiamen": ("福建省", "厦门市"),
                "Jinan": ("山东省", "济南市"), "Qingdao": ("山东省", "青岛市"), "Wenzhou": ("浙江省", "温州市"),
                "Nanchang": ("江西省", "南昌市"), "Changzhou": ("江苏省", "常州市"), "Shaoxing": ("浙江省", "绍兴市"),
                "Jiaxing": ("浙江省", "嘉兴市"), "Yantai": ("山东省", "烟台市"), "Linyi": ("山东省", "临沂市")}


@dataclass
class DemoParcels:
    recorded: list  # (Parcel, Dealer) for their workflows
    tracks: list  # the fixture provider's tracks to push
    unmatched: str  # a waybill tracked with no parcel


def demo_parcels(session: Session, *, now: datetime | None = None) -> DemoParcels:
    """Parcels through the fixture provider: d0001's latest order on its way in three parcels (one
    signed and waiting for its receipt, one out for delivery, one in transit; the tracking poll moves
    them on),
    a parcel of another east dealer signed outside its city (a diversion alert), and a track for a
    waybill nobody recorded (listed as unmatched)."""
    from dealerflow.logistics import parcels as shipments
    from dealerflow.logistics.providers import FixtureProvider, Subscribed
    from dealerflow.logistics.tracking import destination_of

    now = now or datetime.now(timezone.utc)
    fixture = FixtureProvider("")
    d0001 = session.scalars(select(Dealer).where(Dealer.code == "D0001")).one()
    # An order ships whole: one still waiting for stock (backordered) cannot leave yet.
    ready = and_(Order.status.in_(("approved", "shipped")), ~select(StockAllocation.id).where(
        StockAllocation.order_id == Order.id, StockAllocation.status == "backordered").exists())
    shipping = select(Order.id).where(Order.dealer_id == Dealer.id, ready).exists()
    other = session.scalars(select(Dealer).where(Dealer.region == "east", Dealer.level == 1,
                                                 Dealer.code.not_in(_DEMO_LOGIN_DEALERS), shipping,
                                                 ~Dealer.name.like("Suzhou %")).order_by(Dealer.code)).first()
    recorded, tracks = [], []
    plan = [(d0001, hours, signed_at) for hours, signed_at in _DEMO_TRACKS]
    if other is not None:
        plan.append((other, 40, "江苏省苏州市"))
    for n, (dealer, hours, signed_at) in enumerate(plan):
        city = dealer.name.split(" ")[0]
        if dealer.province is None and city in _DEMO_PLACES:
            dealer.province, dealer.city = _DEMO_PLACES[city]
        # d0001's latest order on its way leaves in three parcels (one order may ship in several).
        # Placed two days ago or more when there is one: its parcels can have left 40 hours ago.
        order = session.scalars(select(Order).where(Order.dealer_id == dealer.id, ready)
                                .order_by((Order.created_at < now - timedelta(days=2)).desc(),
                                          Order.created_at.desc())).first()
        if order is None:
            continue
        shipped = max(now - timedelta(hours=hours), order.created_at + timedelta(minutes=5))
        waybill = f"SF{1400000000 + n * 7919 + dealer.id:010d}"
        [parcel] = shipments.record_shipment(session, order_id=order.id, carrier="SF", waybills=[waybill],
                                             provider="fixture", actor="warehouse", shipped_at=shipped,
                                             now=now).parcels
        recorded.append((parcel, dealer))
        tracks.append(fixture.track(Subscribed("SF", waybill, shipped, destination_of(dealer)), now=now,
                                    signed_at=signed_at))
    stray = "YT9900000001"
    tracks.append(fixture.track(Subscribed("YTO", stray, now - timedelta(hours=12), "江苏省南京市"), now=now))
    return DemoParcels(recorded, tracks, stray)
# --- rule governance --------------------------------------------------------------------------------

# The demo's rule change waiting for approval: B-rated dealers no longer approved automatically.
DEMO_PROPOSER = "rules-ci"  # a company's rule repository pipeline proposes; an admin approves


def demo_credit_proposal(shipped: str) -> str:
    """The shipped credit file with automatic approval for rating A only (and its example changed with it)."""
    changed = shipped.replace('dealer.rating in ["A", "B"]', 'dealer.rating in ["A"]').replace(
        "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: B",
        "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: A")
    if changed == shipped:
        raise DemoDataError("rules/credit_approval.yaml no longer has the rule the demo proposal changes")
    return changed


def demo_decisions(session: Session, *, days: int = 90, now: datetime | None = None) -> int:
    """The credit decisions of the demo's orders of the last `days` days, as the shipped credit file
    takes them (the demo's history was written without them), so a replay has decisions to replay.
    Returns how many were stored."""
    from sqlalchemy import String, cast

    from dealerflow.models import Decision
    from dealerflow.orders.credit import CREDIT_RULESET, credit_facts
    from dealerflow.shared import rulebook

    now = now or datetime.now(timezone.utc)
    ruleset = rulebook.active(session, CREDIT_RULESET)
    rows = session.execute(select(Order.id, Order.amount, Order.created_at, Dealer).join(Dealer, Dealer.id == Order.dealer_id)
                           .where(Order.created_at >= now - timedelta(days=days))
                           .where(~select(Decision.id).where(Decision.subject_id == cast(Order.id, String))
                                  .exists())).all()
    out = []
    for order_id, amount, created, dealer in rows:
        d = ruleset.decide(credit_facts(dealer, dealer.outstanding, amount, 100, dealer.overdue_days))
        out.append(dict(subject_type="order", subject_id=str(order_id), ruleset=d.ruleset, version=d.version,
                        rule=d.rule, outcome=d.outcome, explanation=d.to_dict(), decided_at=created,
                        context={"region": dealer.region, "tier": dealer.tier, "dealer": dealer.code,
                                 "amount": f"{amount:.2f}"}))
    for chunk in _chunks(out):
        session.execute(insert(Decision), chunk)
    return len(out)
# --- dealer requests -----------------------------------------------------------------------------------

# (dealer code, category, subject, text, filed hours ago, what happens: open | answered | waiting | closed:<score>)
DEMO_REQUESTS = [
    ("d0001", "product", "断桥铝窗密封条规格", "新到的断桥铝窗密封条和样册不一致，请确认规格。", 1, "open"),
    ("d0001", "after_sales", "客户投诉推拉门异响", "两位客户反映推拉门滑轮异响，需要售后上门。", 26, "answered"),
    ("d0001", "training", "新品安装培训名额", "申请2个新品安装培训名额。", 120, "closed:5"),
    ("d0001", "promotion", "国庆促销活动申请", "申请国庆期间门店满减促销，附方案。", 3, "open"),
    ("d0002", "policy", "春季陈列政策的补贴标准", "陈列补贴是按门店面积还是按样品数量？", 30, "waiting"),
    ("d0002", "expiring_stock", "临期五金件处理", "有一批五金配件即将过期，申请调换。", 240, "open"),
]


def demo_requests(session: Session, now: datetime) -> list[tuple]:
    """Requests in every state for the demo: open (one long past its targets), answered, waiting for
    the dealer, a promotion application for HQ, and closed ones rated across tiers. Returns the open
    ones as (request id, workflow id, task, dealer code, region) for their workflows to be started."""
    from dealerflow.contracts import TaskResult
    from dealerflow.service import requests as service
    from dealerflow.shared import human_tasks

    plan = list(DEMO_REQUESTS)
    others = session.execute(select(Dealer.code, Dealer.tier).where(Dealer.level == 1, Dealer.code > "D0002")
                             .order_by(Dealer.code).limit(40)).all()
    by_tier: dict[str, list[str]] = {}
    for code, tier in others:
        by_tier.setdefault(tier, []).append(code)
    for tier, scores in (("core", (5, 4)), ("key", (4, 3, 5)), ("normal", (3, 2, 4))):
        for i, score in enumerate(scores):
            codes = by_tier.get(tier, [])
            if i < len(codes):
                plan.append((codes[i], ("product", "after_sales", "training")[i], f"Demo request {tier} {i + 1}",
                             "Please advise.", 48 + 24 * i, f"closed:{score}"))
        if by_tier.get(tier):
            plan.append((by_tier[tier][-1], "after_sales", f"Overdue repair ({tier})", "Still waiting for the part.",
                         24 * 12, "open"))
    users = {u.dealer_id: u for u in session.scalars(select(User).where(User.role == "dealer"))}
    open_ = []
    for code, category, subject, body, hours, state in plan:
        dealer = session.scalars(select(Dealer).where(Dealer.code == code.upper())).first()
        if dealer is None:
            continue
        filed = now - timedelta(hours=hours)
        dealer_user = users.get(dealer.id)
        actor = dealer_user.username if dealer_user else code.lower()
        r, task = service.file_request(session, dealer=dealer, actor=actor, category=category, subject=subject,
                                       text=body, attachments=[], now=filed)
        staff = session.scalars(select(User).where(User.username == (dealer.account_manager or "hq"))).first() \
            or session.scalars(select(User).where(User.username == "hq")).first()
        if state in ("answered", "waiting") or state.startswith("closed"):
            service.post_message(session, r, user=staff, text="收到，正在处理。", attachments=[],
                                 now=filed + timedelta(hours=1))
        if state == "waiting":
            service.set_status(session, r, user=staff, status="waiting_dealer", now=filed + timedelta(hours=2))
        if state.startswith("closed"):
            result = TaskResult(str(r.task_id), "resolved", staff.username, "已处理完毕。")
            human_tasks.record_completion(session, result)
            service.close(session, r.id, result, filed + timedelta(hours=5))
            if dealer_user is not None:
                service.rate(session, r, user=dealer_user, score=int(state.split(":")[1]), comment="",
                             now=filed + timedelta(hours=6))
        else:
            open_.append((str(r.id), r.workflow_id, task, dealer.code, dealer.region))
    return open_


def demo_care(session: Session, today: date) -> None:
    """Birthdays and cooperation anniversaries today and tomorrow for the demo's care page: d0001's
    contact has a birthday tomorrow (am_east_1 hears of it today), a few others today."""
    def years_ago(n: int, day: date) -> date:
        return day.replace(year=day.year - n) if not (day.month == 2 and day.day == 29) else date(day.year - n, 2, 28)

    tomorrow = today + timedelta(days=1)
    codes = session.scalars(select(Dealer.code).where(Dealer.level == 1).order_by(Dealer.code).limit(8)).all()
    plan = {0: ("contact_birthday", years_ago(42, tomorrow)), 1: ("contact_birthday", years_ago(35, today)),
            2: ("cooperation_since", years_ago(5, today)), 3: ("cooperation_since", years_ago(1, today)),
            4: ("contact_birthday", years_ago(50, today)), 5: ("cooperation_since", years_ago(3, tomorrow))}
    for i, (column, value) in plan.items():
        if i < len(codes):
            session.execute(update(Dealer).where(Dealer.code == codes[i]).values({column: value}))


def demo_messaging(session: Session, now: datetime) -> list[tuple]:
    """An announcement to core dealers (acknowledgment asked), d0001's conversation with am_east_1,
    points for d0001 and two redemptions. Returns the redemptions as (id, task, dealer code) for their
    workflows to be started."""
    from dealerflow.care import points
    from dealerflow.messaging import announcements, conversations
    from dealerflow.models import PointsEntry

    announcements.publish(session, title="新品优先试销：断桥铝系列", ack_required=True, actor="hq", now=now,
                          body="核心经销商可优先申请新款断桥铝窗的试销名额，请于本月底前在诉求中提交促销申请。",
                          target='dealer.tier == "core"')
    announcements.publish(session, title="国庆假期发货安排", body="10月1日至7日暂停发货，10月8日起恢复。", target="true",
                          ack_required=False, actor="hq", now=now)
    dealer = session.scalars(select(Dealer).where(Dealer.code == "D0001")).first()
    if dealer is None:
        return []
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(["d0001", "am_east_1"])))}
    if {"d0001", "am_east_1"} <= set(users):
        for who, text in (("d0001", "王经理，新品样册什么时候到？"), ("am_east_1", "本周五寄出，到了请签收。"),
                          ("d0001", "好的，谢谢！")):
            conversations.post(session, dealer=dealer, user=users[who], text=text, now=now)
    session.add(PointsEntry(dealer_id=dealer.id, points=3000, reason="Demo: points earned", source_type="demo",
                            source_id="d0001-points"))
    session.flush()
    out = []
    for item in ("display_kit", "training_seat"):
        r, task = points.redeem(session, dealer_id=dealer.id, item=item, actor="d0001", now=now, key=f"demo-{item}")
        if task is not None:
            out.append((str(r.id), task, dealer.code))
    return out
# --- channel inventory -------------------------------------------------------------------------------

_INVENTORY_PAIRS = text("""
    create temporary table demo_pairs on commit drop as
    select o.dealer_id, l.product_id, abs(hashtext(o.dealer_id::text || ':' || l.product_id::text)) % 100 as h,
           greatest(sum(l.quantity) / 365.0, 0.2) as rate
    from orders o join order_lines l on l.order_id = o.id
    join dealers d on d.id = o.dealer_id and d.status = 'active'  -- a suspended or ended dealer reports nothing
    where o.delivered_at is not null
    group by o.dealer_id, l.product_id""")

# A year of weekly sell-through, seasonal (spring and autumn are the trade's busy months), with a
# quiet week now and then; one pair in ten stopped selling months ago (overstocked, > 90 days).
_INVENTORY_SALES = text("""
    insert into sell_through (dealer_id, product_id, day, source, quantity, reported_by)
    select dealer_id, product_id, cast(:today as date) - 1 - 7 * w, 'feed',
           case when h < 10 and w < 20 then 0
                when (h + w) % 13 = 0 then 0
                else round(rate * 7 * (1 + 0.35 * sin(2 * pi() * (52 - w) / 26.0)))::int end,
           'demo-pos'
    from demo_pairs cross join generate_series(0, 51) w""")

# Twelve weekly stock reports; the latest sets the picture: one pair in ten overstocked, one in ten
# near stock-out (a day of sales left), most with three to six weeks of stock.
_INVENTORY_REPORTS = text("""
    insert into stock_reports (dealer_id, product_id, day, on_hand, in_transit, reported_at, source, reported_by)
    select dealer_id, product_id, cast(:today as date) - 1 - 7 * w,
           greatest(0, round(rate * case when h < 10 then 150 + 7 * w when h < 20 then 1 else 21 + h % 22 end))::int,
           0, (cast(:today as date) - 1 - 7 * w)::timestamp at time zone 'Asia/Shanghai' + interval '18 hours',
           case when w % 3 = 0 then 'api' else 'form' end, 'demo'
    from demo_pairs cross join generate_series(0, 11) w""")


def demo_inventory(session: Session, *, today: date | None = None) -> dict:
    """A year of weekly sell-through and twelve weekly stock reports for every product a dealer was
    delivered, at the pace of its deliveries (deterministic from the orders), shaped so that some dealers are overstocked, some near
    stock-out and most healthy; two dealers opt in to automatic replenishment drafts."""
    from dealerflow.models import ReplenishmentOptIn

    today = today or date.today()
    session.execute(_INVENTORY_PAIRS, {"today": today})
    session.execute(_INVENTORY_SALES, {"today": today})
    session.execute(_INVENTORY_REPORTS, {"today": today})
    for code in _DEMO_LOGIN_DEALERS:
        dealer_id = session.scalar(select(Dealer.id).where(Dealer.code == code))
        if dealer_id is not None:
            session.execute(insert(ReplenishmentOptIn).values(dealer_id=dealer_id, updated_by="demo"))
    return {"pairs": session.execute(text("select count(*) from demo_pairs")).scalar_one()}
