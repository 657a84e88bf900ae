"""Clearance advice → a policy draft for HQ: a rule file of `kind: policy` (the existing policy
machinery) for a clearance promotion of one product, targeting the dealers advised to clear it on a
day, with tests at its edges. The draft is validated here and returned as text; HQ edits it and
deploys and publishes it like any policy (`/api/v1/rules/deploy`, `/api/v1/policies/{id}/publish`).
Its advice is marked `policy_drafted`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from policies_dsl import RuleFileError, load_rule_file, run_rule_tests

from dealerflow.core.errors import Invalid, NotFound
from dealerflow.models import Dealer, InventoryAdvice, Product

MAX_DEALERS = 2000  # codes listed in one target condition


@dataclass(frozen=True)
class PolicyDraft:
    ruleset: str
    filename: str
    text: str
    dealers: list[str]


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def draft(session: Session, *, sku: str, day: date | None, actor: str) -> PolicyDraft:
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise Invalid(f"unknown SKU {sku!r}", field="sku")
    q = select(InventoryAdvice.day).where(InventoryAdvice.product_id == product.id,
                                          InventoryAdvice.action == "clearance")
    day = day or session.scalar(q.order_by(InventoryAdvice.day.desc()).limit(1))
    rows = session.execute(
        select(InventoryAdvice.id, Dealer.code).join(Dealer, Dealer.id == InventoryAdvice.dealer_id)
        .where(InventoryAdvice.product_id == product.id, InventoryAdvice.action == "clearance",
               InventoryAdvice.day == day).order_by(Dealer.code).limit(MAX_DEALERS)).all() if day else []
    if not rows:
        raise NotFound(f"no clearance advice for {sku}" + (f" on {day.isoformat()}" if day else ""))
    codes = [r.code for r in rows]
    ruleset = f"clearance_{''.join(c if c.isalnum() else '_' for c in sku.lower())}_{day.strftime('%Y%m%d')}"[:64]
    outsider = "NOT-" + codes[0]
    text = "\n".join([
        "# yaml-language-server: $schema=../../schemas/rule-file.schema.json",
        f"ruleset: {ruleset}",
        "kind: policy",
        f"description: {_quoted(f'Clearance promotion drafted by {actor} from the stock advice of {day.isoformat()}')}",
        "",
        "policy:",
        f"  title: {_quoted(f'Clearance of {product.name} ({sku})')}",
        "  category: promotion",
        "  body: |",
        f"    Stock of {product.name} ({sku}) has turned over too slowly at your warehouse.",
        "    HQ supports a clearance promotion: edit the terms before publishing.",
        f"  effective: {{from: {day.isoformat()}, to: {(day + timedelta(days=30)).isoformat()}}}",
        f"  target: {_quoted('dealer.code in [' + ', '.join(json.dumps(c) for c in codes) + ']')}",
        "  acknowledgment: {required: true, deadline: 3d}",
        "",
        "tests:",
        f"  - name: {_quoted(f'{codes[0]}, advised to clear it, is targeted')}",
        f"    given: {{dealer.code: {_quoted(codes[0])}}}",
        "    expect: {targeted: true}",
        "  - name: a dealer not advised to clear it is not",
        f"    given: {{dealer.code: {_quoted(outsider)}}}",
        "    expect: {targeted: false}",
        ""])
    filename = f"rules/policies/{ruleset}.yaml"
    try:
        rule_file = load_rule_file(filename, text)
    except RuleFileError as e:  # a draft we generate must load; say what went wrong if not
        raise Invalid(f"the policy draft does not validate: {e}") from None
    failed = [r for r in run_rule_tests(rule_file) if not r.passed]
    if failed:
        raise Invalid(f"the policy draft's tests fail: {failed[0].message}")
    session.execute(update(InventoryAdvice).where(InventoryAdvice.id.in_([r.id for r in rows]),
                                                  InventoryAdvice.status == "open").values(status="policy_drafted"))
    return PolicyDraft(ruleset, filename, text, codes)
