"""Shadow versions: a candidate deployed as `shadow` is evaluated beside the active version on every
live decision of its kind (rulebook.shadow_outcomes / with_shadows + beside, called where the decision
is taken), its outcome stored with the decision and never acted on: in `decisions.shadow` for the
kinds whose decisions are rows there (credit approval, allocation), in `shadow_outcomes` for the
others (credit and tiering scorecards, inventory advice, service targets, diversion cases, rebate statements, a policy's targets at each rollout). Here: starting and ending a shadow
(audited; ending keeps its record) and the dashboard of its disagreements and running totals, the
same for every kind: each kind says where its outcomes are and how two outcomes compare."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid, NotFound
from dealerflow.governance import audit
from dealerflow.models import RuleVersion
from dealerflow.shared import rulebook
from policies_dsl import load_rule_file

# The kinds whose live decisions evaluate shadows.
SHADOWED_KINDS = ("credit_approval", "allocation", "credit_score", "inventory", "service", "tiering", "diversion", "rebate", "policy")


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


@dataclass(frozen=True)
class Source:
    """Where a kind's shadow outcomes are: `base` selects (subject_id, decided_at, live_version, rule,
    live, live_reason, shadow, context) for :ruleset; `shadow_value` is the comparable value of a
    shadow's outcome `s.value` (live is already one)."""
    base: str
    shadow_value: str


def _decisions(live: str, shadow: str) -> Source:
    return Source(f"""select d.subject_id, d.decided_at, d.version as live_version, d.rule, {live} as live,
                             d.explanation->>'reason' as live_reason, d.shadow, d.context
                      from decisions d
                      where d.ruleset = :ruleset and jsonb_typeof(d.shadow) = 'object'""", shadow)


_KEPT = Source("""select o.subject as subject_id, o.decided_at, o.live_version, '' as rule, o.live, o.live_reason,
                         o.shadow, o.context
                  from shadow_outcomes o where o.ruleset = :ruleset""", "s.value->>'value'")

SOURCES = {
    "credit_approval": _decisions("d.outcome->>'decision'", "s.value->'outcome'->>'decision'"),
    "allocation": _decisions("(d.outcome->>'allocate') || ' p' || (d.outcome->>'priority')",
                             "(s.value->'outcome'->>'allocate') || ' p' || (s.value->'outcome'->>'priority')"),
    "credit_score": _KEPT, "inventory": _KEPT, "service": _KEPT, "tiering": _KEPT, "diversion": _KEPT, "rebate": _KEPT,
    "policy": _KEPT,
}


def _totals(source: Source):
    return text(f"""with b as ({source.base})
        select s.key as version, b.live, {source.shadow_value} as shadow, count(*) as n,
               coalesce(sum((b.context->>'amount')::numeric), 0) as amount
        from b cross join lateral jsonb_each(b.shadow) s
        group by 1, 2, 3 order by 1, 2, 3""")


def _disagreements(source: Source):
    return text(f"""with b as ({source.base})
        select b.subject_id, b.decided_at, b.live_version, s.key as version, b.rule, b.live,
               {source.shadow_value} as shadow, s.value->>'rule' as shadow_rule, b.live_reason,
               s.value->>'reason' as shadow_reason, s.value->>'error' as error, b.context->>'amount' as amount,
               b.context->>'region' as region, b.context->>'dealer' as dealer, b.context
        from b cross join lateral jsonb_each(b.shadow) s
        where ({source.shadow_value}) is distinct from b.live
        order by b.decided_at desc, b.subject_id desc limit :limit""")


def link(kind: str, row: dict) -> str | None:
    """Where the console shows the decision a disagreement is about."""
    context = row.get("context") or {}
    if kind in ("credit_approval", "allocation"):
        return f"/console/orders/{row['subject_id']}"
    if kind == "service" and context.get("request"):
        return f"/console/service/{context['request']}"
    if kind == "credit_score" and context.get("month"):
        return f"/console/credit?month={context['month']}"
    if kind == "diversion" and context.get("case"):
        return f"/console/cases/{context['case']}"
    if kind == "policy" and context.get("policy"):
        return f"/console/policies/{context['policy']}"
    if kind == "tiering" and context.get("month"):
        return f"/console/tiering?month={context['month']}"
    return None


def dashboard(session: Session, ruleset: str = "credit_approval", limit: int = 50) -> dict:
    """Every shadow version of `ruleset` (running or ended), its running totals (evaluated, agreed,
    disagreed, by live → shadow outcome with the amounts the kind counts: an order's, a limit's
    change) and its latest disagreements."""
    versions = list(session.scalars(select(RuleVersion).where(RuleVersion.ruleset == ruleset,
                                                              RuleVersion.mode == "shadow")
                                    .order_by(RuleVersion.version.desc())))
    kind = rulebook.stored_kind(session, ruleset) or rulebook.PLATFORM_RULESETS.get(ruleset)
    totals: dict[str, dict] = {str(v.version): {"version": v.version, "running": v.shadow_ended_at is None,
                                                "deployed_by": v.deployed_by, "deployed_at": v.deployed_at,
                                                "ended_at": v.shadow_ended_at, "evaluated": 0, "agreed": 0,
                                                "disagreed": 0, "moves": []} for v in versions}
    source = SOURCES.get(kind)
    board = {"ruleset": ruleset, "kind": kind, "rulesets": shadowed_rulesets(session),
             "shadows": list(totals.values()), "disagreements": []}
    if source is None:
        return board
    for row in session.execute(_totals(source), {"ruleset": ruleset}):
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
    rows = [dict(r._mapping) for r in session.execute(_disagreements(source), {"ruleset": ruleset, "limit": limit})]
    board["disagreements"] = [{**r, "link": link(kind, r)} for r in rows]
    return board


def shadowed_rulesets(session: Session) -> list[str]:
    """The rulesets that have (or had) a shadow version, for the dashboard's choice."""
    return list(session.scalars(select(RuleVersion.ruleset).where(RuleVersion.mode == "shadow")
                                .distinct().order_by(RuleVersion.ruleset)))
