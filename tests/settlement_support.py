"""Rebate programs and account history for settlement tests: a program per test, targeting a region
of its own (the database is shared by the session), windows and SLAs in seconds."""
from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import insert

from dealerflow.shared import accounts
from dealerflow.models import Order, OrderLine

from .policy_support import ruleset_of, unique
from .support import wait_until

BRACKETS = "[{from: 0, rate: 0%}, {from: 1000, rate: 1%}, {from: 5000, rate: 2%}]"


def program_yaml(name: str, region: str, *, period: str = "quarter", interim: str | None = None,
                 basis: str = "retroactive", brackets: str = BRACKETS, extras: str | None = None,
                 confirm: str = "3s", second: str | None = None) -> str:
    text = (f"ruleset: {name}\nkind: rebate\nrebate:\n  title: Test rebate {name}\n  measure: net_delivered_amount\n"
            f"  period: {period}\n  eligible: 'dealer.region == \"{region}\"'\n  basis: {basis}\n"
            f"  brackets: {brackets}\n")
    if interim:
        text += f"  interim: {interim}\n"
    if extras:
        text += f"  extras: {extras}\n"
    text += (f"  settlement:\n    confirm_within: {confirm}\n    disputes: {{role: finance, sla: 1h}}\n"
             f"    approval: {{role: finance, sla: 1h}}\n")
    if second:
        text += f"    second_approval: {second}\n"
    return text


def deploy_program(client, admin, text: str) -> str:
    r = client.post("/api/v1/rules/deploy", params={"filename": f"rules/rebates/{ruleset_of(text)}.yaml"},
                    content=text.encode(),
                    headers={**admin.headers, "Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    return r.json()["ruleset"]


def delivered(sessions, dealer, product, quantity: int, on: str) -> uuid.UUID:
    """A delivered order of `quantity` units on the day `on` (China time), booked to the account."""
    at = datetime.combine(datetime.fromisoformat(on).date(), time(10), accounts.CHINA)
    order_id = uuid.uuid4()
    amount = product.unit_price * quantity
    with sessions.begin() as s:
        s.execute(insert(Order).values(id=order_id, dealer_id=dealer.dealer.id, status="delivered", amount=amount,
                                       workflow_id=f"order-{order_id}", created_at=at, updated_at=at,
                                       shipped_at=at, delivered_at=at))
        s.execute(insert(OrderLine).values(order_id=order_id, line_no=1, product_id=product.id, sku=product.sku,
                                           quantity=quantity, unit_price=product.unit_price, amount=amount))
        accounts.book(s, [accounts.entry(dealer_id=dealer.dealer.id, kind="delivery", amount=amount,
                                         value_date=at.date(), source_type="order", source_id=str(order_id))])
    return order_id


def start(client, finance, program: str, period: str, upto: str | None = None) -> dict:
    r = client.post("/api/v1/settlements", json={"program": program, "period": period, "upto": upto},
                    headers=finance.headers)
    assert r.status_code == 202, r.text
    return r.json()


def run(client, finance, run_id: str) -> dict:
    r = client.get(f"/api/v1/settlements/{run_id}", headers=finance.headers)
    return r.json() if r.status_code == 200 else {}


def stage(client, finance, run_id: str, wanted: str, timeout: float = 30) -> dict:
    return wait_until(lambda: (r := run(client, finance, run_id)).get("stage") == wanted and r, timeout)


def statement_of(client, dealer, run_id: str, timeout: float = 30) -> dict:
    return wait_until(lambda: next((s for s in client.get("/api/v1/statements", headers=dealer.headers).json()
                                    if s["run_id"] == run_id), None), timeout)


def approval_task(client, approver, run_id: str, step: int = 1, timeout: float = 30) -> dict:
    return wait_until(lambda: next((t for t in client.get("/api/v1/tasks", headers=approver.headers).json()
                                    if t["subject_id"] == run_id and t["payload"].get("step") == step), None),
                      timeout)


def complete(client, actor, task_id: str, outcome: str, comment: str = ""):
    return client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": outcome, "comment": comment},
                       headers=actor.headers)


def balances(statement: dict) -> bool:
    d = {k: Decimal(statement[k]) for k in ("opening", "deliveries", "returns", "payments", "rebates_posted",
                                             "rebate", "points_amount", "closing")}
    return d["opening"] + d["deliveries"] - d["returns"] - d["payments"] - d["rebates_posted"] - d["rebate"] \
        - d["points_amount"] == d["closing"]


def region() -> str:
    return unique("reg")
