"""Shadow versions: a candidate deployed as `shadow` is evaluated beside the active version on every
live decision of its kind (dealerflow/shared/rulebook.shadow_outcomes, called where the decision is
taken), its outcome stored with the decision and never acted on. Here: starting and ending a shadow
(audited; ending keeps its record) and the dashboard of its disagreements and running totals."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid, NotFound
from dealerflow.governance import audit
from dealerflow.models import RuleVersion
from dealerflow.shared import rulebook
from policies_dsl import load_rule_file

# The kinds whose live decisions evaluate shadows.
SHADOWED_KINDS = ("credit_approval",)


def start(session: Session, *, filename: str, text: str, actor: str, kinds=None) -> rulebook.Deployed:
    rule_file = load_rule_file(filename, text)
    if rule_file.kind not in SHADOWED_KINDS:
        raise Invalid(f"files of kind {rule_file.kind} cannot run in shadow yet (kinds: {', '.join(SHADOWED_KINDS)})",
                      errors=[{"file": filename, "line": 1, "path": "kind", "message": f"no shadow for kind {rule_file.kind}"}])
    deployed = rulebook.deploy(session, filename=filename, text=text, actor=actor, kinds=kinds, mode="shadow")
    audit.record(session, ruleset=deployed.ruleset, action="shadow_started", actor=actor, version=deployed.version,
                 sha256=deployed.sha256)
    return deployed


def end(session: Session, *, ruleset: str, version: int, actor: str) -> None:
    if not rulebook.end_shadow(session, ruleset, version):
        raise NotFound(f"{ruleset} v{version} is not a running shadow")
    audit.record(session, ruleset=ruleset, action="shadow_ended", actor=actor, version=version)


_TOTALS = text("""
    select s.key as version, d.outcome->>'decision' as live, s.value->'outcome'->>'decision' as shadow,
           count(*) as n, coalesce(sum((d.context->>'amount')::numeric), 0) as amount
    from decisions d cross join lateral jsonb_each(d.shadow) s
    where d.ruleset = :ruleset and jsonb_typeof(d.shadow) = 'object'
    group by 1, 2, 3 order by 1, 2, 3""")

_DISAGREEMENTS = text("""
    select d.subject_id, d.decided_at, d.version as live_version, s.key as version, d.rule,
           d.outcome->>'decision' as live, s.value->'outcome'->>'decision' as shadow, s.value->>'rule' as shadow_rule,
           d.explanation->>'reason' as live_reason, s.value->>'reason' as shadow_reason, s.value->>'error' as error,
           d.context->>'amount' as amount, d.context->>'region' as region, d.context->>'dealer' as dealer
    from decisions d cross join lateral jsonb_each(d.shadow) s
    where d.ruleset = :ruleset and jsonb_typeof(d.shadow) = 'object'
      and (s.value->'outcome'->>'decision' is distinct from d.outcome->>'decision')
    order by d.decided_at desc, d.id desc limit :limit""")


def dashboard(session: Session, ruleset: str = "credit_approval", limit: int = 50) -> dict:
    """Every shadow version of `ruleset` (running or ended), its running totals (evaluated, agreed,
    disagreed, by live → shadow outcome with the order amounts) and its latest disagreements."""
    versions = list(session.scalars(select(RuleVersion).where(RuleVersion.ruleset == ruleset,
                                                              RuleVersion.mode == "shadow")
                                    .order_by(RuleVersion.version.desc())))
    totals: dict[str, dict] = {str(v.version): {"version": v.version, "running": v.shadow_ended_at is None,
                                                "deployed_by": v.deployed_by, "deployed_at": v.deployed_at,
                                                "ended_at": v.shadow_ended_at, "evaluated": 0, "agreed": 0,
                                                "disagreed": 0, "moves": []} for v in versions}
    for row in session.execute(_TOTALS, {"ruleset": ruleset}):
        t = totals.get(row.version)
        if t is None:
            continue
        t["evaluated"] += row.n
        if row.live == row.shadow:
            t["agreed"] += row.n
        else:
            t["disagreed"] += row.n
            t["moves"].append({"from": row.live, "to": row.shadow or "error", "count": row.n,
                               "amount": f"{Decimal(row.amount):.2f}"})
    rows = [dict(r._mapping) for r in session.execute(_DISAGREEMENTS, {"ruleset": ruleset, "limit": limit})]
    return {"ruleset": ruleset, "shadows": list(totals.values()), "disagreements": rows}
