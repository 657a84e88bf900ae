"""Rebate programs (rule files of `kind: rebate`), the figures their ladders measure, and a dealer's
progress on them. Figures are aggregated in the database, one GROUP BY per source; the rule engine
runs once per dealer and program, never per order line."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dealerflow.core.errors import Invalid
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, Figures, RebateSpec, accrue

from dealerflow.shared import accounts, rulebook
from dealerflow.core import periods
from dealerflow.shared.dealer_facts import facts_of, select_facts
from dealerflow.models import Dealer, Order, OrderLine, OrderReturn, PointsEntry, Product, RuleVersion


class SettlementError(Invalid):
    """A program or run that cannot be asked for: unknown program, wrong period, period not over."""


def scoped(query, column, dealer_ids):
    return query if dealer_ids is None else query.where(column.in_(dealer_ids))


def program(session: Session, name: str, version: int | None = None) -> tuple[CompiledRuleset, RebateSpec]:
    try:
        ruleset = rulebook.compiled(session, name, version)
    except rulebook.UnknownRuleset:
        raise SettlementError(f"no rebate program {name!r} has been deployed") from None
    if ruleset.rule_file.kind != "rebate":
        raise SettlementError(f"{name!r} is a {ruleset.rule_file.kind} rule file, not a rebate program")
    return ruleset, ruleset.rule_file.spec


def deployed_names(session: Session) -> list[str]:
    """Every rebate program with a live version, in force or scheduled (each keeps a settlement schedule)."""
    return session.scalars(select(RuleVersion.ruleset).where(RuleVersion.kind == "rebate", RuleVersion.mode == "active")
                           .distinct().order_by(RuleVersion.ruleset)).all()


def programs(session: Session) -> list[tuple[CompiledRuleset, RebateSpec]]:
    """Every rebate program in force, at its active version (one only scheduled, or whose last version
    has expired, is not a program yet or any more)."""
    names = session.scalars(select(RuleVersion.ruleset).where(RuleVersion.kind == "rebate", rulebook.in_effect())
                            .distinct().order_by(RuleVersion.ruleset)).all()
    return [program(session, name) for name in names]


def dealer_facts(row, *, on: date) -> dict:
    """A row of `dealer_facts.select_facts()` as a rebate file reads it: the dealer facts every rule
    file reads, and the full years of cooperation on `on`."""
    return {**facts_of(row), "dealer.years": periods.full_years(row.cooperation_since, on)}


def measures(session: Session, spec: RebateSpec, start: date, end: date,
             dealer_ids: list[int] | None = None) -> dict[int, tuple]:
    """dealer id → (measure over [start, end], the same over the span a year earlier): delivered
    lines less returns, by delivery and return time, in the program's unit and category."""
    spans = [(accounts.day_start(start), accounts.day_start(end + timedelta(days=1))),
             (accounts.day_start(periods.year_before(start)),
              accounts.day_start(periods.year_before(end) + timedelta(days=1)))]

    def net(value, at, dealer, product, base):
        in_span = [and_(at >= a, at < b) for a, b in spans]
        q = base.add_columns(dealer, *[func.coalesce(func.sum(value).filter(c), 0) for c in in_span]) \
            .where(or_(*in_span)).group_by(dealer)
        if spec.category:
            q = q.join(Product, Product.id == product).where(Product.category == spec.category)
        return {row[0]: (row[1], row[2]) for row in session.execute(scoped(q, dealer, dealer_ids))}

    amount = spec.measure == "amount"
    delivered = net(OrderLine.amount if amount else OrderLine.quantity, Order.delivered_at, Order.dealer_id,
                    OrderLine.product_id, select().select_from(OrderLine).join(Order, Order.id == OrderLine.order_id))
    returned = net(OrderReturn.amount if amount else OrderReturn.quantity, OrderReturn.returned_at,
                   OrderReturn.dealer_id, OrderReturn.product_id, select().select_from(OrderReturn))
    out = {}
    for dealer_id in delivered.keys() | returned.keys():
        d, r = delivered.get(dealer_id, (0, 0)), returned.get(dealer_id, (0, 0))
        out[dealer_id] = (in_unit(spec, d[0] - r[0]), in_unit(spec, d[1] - r[1]))
    return out


def progress(session: Session, dealer: Dealer, *, today: date) -> list[dict]:
    """For each program the dealer is in: the measure so far this period, the bracket reached, how
    much more reaches the next bracket and what the rebate would then be."""
    out = []
    points = int(session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                                .where(PointsEntry.dealer_id == dealer.id)))
    joined = dealer.cooperation_since
    facts = dealer_facts(session.execute(select_facts().where(Dealer.id == dealer.id)).one(), on=today)
    for ruleset, spec in programs(session):
        period = periods.period_of(spec.period, today)
        current, prior = measures(session, spec, period.start, today, [dealer.id]).get(
            dealer.id, (in_unit(spec, 0), in_unit(spec, 0)))

        def at(measure) -> object:
            return accrue(ruleset, spec, Figures(
                dealer=facts, measure=measure, prior_measure=prior,
                anniversary=periods.anniversary_in(joined, period.start, period.end), points=points))

        now = at(current)
        if not now.eligible:
            continue
        following = next((b for b in spec.brackets if b.floor > current), None)
        then = at(in_unit(spec, following.floor)) if following else None
        out.append({
            "program": spec.id, "title": spec.title, "version": ruleset.version, "period": period.key,
            "period_from": period.start.isoformat(), "period_to": period.end.isoformat(),
            "unit": "CNY" if spec.measure == "amount" else "units", "category": spec.category, "basis": spec.basis,
            "measure": _text(current), "prior_measure": _text(prior), "bracket": now.bracket,
            "brackets": [{"index": b.index, "from": _text(b.floor),
                          "rate": f"{b.rate * 100:.2f}%" if b.rate is not None else None,
                          "amount": f"{b.amount:.2f}" if b.amount is not None else None} for b in spec.brackets],
            "earned_so_far": f"{now.earned:.2f}", "extras": list(now.extras),
            "next_bracket": following.index if following else None,
            "to_next_bracket": _text(in_unit(spec, following.floor - current)) if following else None,
            "at_next_bracket": f"{then.earned:.2f}" if then else None,
            "explanation": now.explanation.get("reason", ""),
        })
    return out


def _text(value) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def in_unit(spec: RebateSpec, value) -> Decimal | int:
    """Money for amount programs, whole units for quantity programs."""
    return Decimal(value).quantize(Decimal("0.01")) if spec.measure == "amount" else int(value)
