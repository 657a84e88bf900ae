"""Anti-diversion cases (窜货管控). Alerts come from scans (dealerflow.diversion.scans) and from shipment
patterns (`sweep_patterns`, here); every alert joins the open case of its dealer, product and region,
or opens one, in the transaction that finds it. A CaseWorkflow per case asks the rule file's
investigator to confirm or dismiss; a confirmed case costs the dealer credit points, once.

The rule engine never sees a scan or a code: the database finds the alerts with the rule file's
thresholds, and the rules assess a case once per trigger found in it (severity, escalations)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from policies_dsl import Assessment, CompiledRuleset, DiversionSpec, assess
from policies_dsl import most_severe

from dealerflow.shared import credit_points, rulebook
from dealerflow.contracts import CaseOutcomeInput, CaseResult, CaseStart, Investigation, InvestigationInput, TaskSpec
from dealerflow.shared.dealer_facts import facts_of, select_facts
from dealerflow.models import Dealer, DiversionAlert, DiversionCase, Product
from dealerflow.shared.notifications import notify

RULESET = "diversion"
# A case's alerts the investigator's task lists; the case page shows more.
TASK_ALERTS = 20



def rules(session: Session) -> tuple[CompiledRuleset, DiversionSpec] | None:
    """The active diversion rule file, or None when none is deployed (scans are then only recorded)."""
    try:
        ruleset = rulebook.compiled(session, RULESET)
    except rulebook.UnknownRuleset:
        return None
    if ruleset.rule_file.kind != "diversion":
        raise ValueError(f"ruleset {RULESET!r} is a {ruleset.rule_file.kind} rule file: deploy rules/diversion.yaml")
    return ruleset, ruleset.rule_file.spec


# --- alerts into cases -------------------------------------------------------------------------------

# The columns of a `hits` CTE: one row per alert found.
HITS = "scan_id, code, dealer_id, product_id, region, trigger, price, guide_price, units, baseline, at"

_HITS_TABLE = """create temporary table if not exists alert_hits (
    scan_id varchar(64) collate "C", code varchar(64) collate "C", dealer_id int, product_id int, region varchar(64),
    trigger varchar(32), price numeric(14, 2), guide_price numeric(14, 2), units int, baseline numeric,
    at timestamptz) on commit delete rows"""

# Cases are opened without touching the open ones: a conflict (another batch opened it, or is opening
# it) is skipped once that batch has committed, so concurrent batches never wait on a busy case row
# for the rest of their transaction. In key order, so two batches opening the same cases cannot deadlock.
_OPEN = text("""
    insert into diversion_cases (dealer_id, product_id, region, status, first_alert_at)
    select dealer_id, product_id, region, 'open', min(at) from alert_hits group by dealer_id, product_id, region
    order by dealer_id nulls first, product_id nulls first, region
    on conflict (dealer_id, product_id, region) where status = 'open' do nothing
    returning id, (select code from dealers d where d.id = dealer_id), region""")

# A new statement sees the cases that batches committed meanwhile; a hit whose case was closed in
# between stays behind and opens a new one.
_FILE = text(f"""
    with filed as (
        delete from alert_hits h using diversion_cases c
        where c.status = 'open' and coalesce(c.dealer_id, 0) = coalesce(h.dealer_id, 0)
          and coalesce(c.product_id, 0) = coalesce(h.product_id, 0) and c.region = h.region
        returning c.id as case_id, h.*)
    insert into diversion_alerts (case_id, {HITS}) select case_id, {HITS} from filed
    returning case_id""")


@dataclass(frozen=True)
class Filed:
    alerts: int
    joined: int  # open cases the alerts joined
    cases: list[CaseStart]  # cases these alerts opened: their workflows start after the commit


def find_alerts(session: Session, ctes: str, params: dict, extra: str = ""):
    """Run `ctes` (the last one named `hits`, with the columns HITS) and keep its rows for
    `file_alerts` in this transaction. Returns the statement's row: `hits`, and `extra` columns."""
    connection = session.connection()
    connection.exec_driver_sql(_HITS_TABLE)
    connection.exec_driver_sql("delete from alert_hits")  # left by an earlier batch of this transaction
    return session.execute(text(f"""with {ctes}, kept as (insert into alert_hits ({HITS}) select {HITS} from hits
                                    returning 1) select (select count(*) from kept) as hits{extra}"""), params).one()


def file_alerts(session: Session) -> Filed:
    """File the alerts `find_alerts` kept into the open case of their dealer, product and region,
    opening the cases that do not exist: a few set-based statements, whatever the number of alerts."""
    alerts, cases, opened = 0, set(), []
    for _ in range(10):  # a second round only when a case closed between two statements
        opened += [CaseStart(*row) for row in session.execute(_OPEN)]
        filed = session.scalars(_FILE).all()
        alerts += len(filed)
        cases.update(filed)
        if not session.scalar(text("select exists (select 1 from alert_hits)")):
            break
    else:
        raise RuntimeError("alerts could not be filed into cases: cases keep closing under them")
    return Filed(alerts, len(cases - {c.case_id for c in opened}), opened)


def _pattern_hits(trigger: str) -> str:
    """Shipments of one product by one dealer: in the window against its region's per-dealer average
    (regional_excess), or against its own average over the trailing span (stock_up). Units compare
    exactly (multiplied out, never divided); an alert of the same trigger within the window is not
    raised again."""
    if trigger == "regional_excess":
        shipped = """sum(l.quantity) as units
            from orders o join order_lines l on l.order_id = o.id
            where o.shipped_at >= :since and o.shipped_at < :now group by o.dealer_id, l.product_id),
        region_size as (select region, count(*) as dealers from dealers group by region),
        regional as (select d.region, s.product_id, sum(s.units) as units
                     from shipped s join dealers d on d.id = s.dealer_id group by d.region, s.product_id"""
        hit = """join regional r on r.region = d.region and r.product_id = s.product_id
            join region_size z on z.region = d.region
            where s.units >= :min_units and s.units * z.dealers > :over * r.units"""
        baseline = "r.units::numeric / z.dealers"
    else:
        shipped = """coalesce(sum(l.quantity) filter (where o.shipped_at >= :since), 0) as units,
                   coalesce(sum(l.quantity) filter (where o.shipped_at < :since), 0) as trailing
            from orders o join order_lines l on l.order_id = o.id
            where o.shipped_at >= :trailing_since and o.shipped_at < :now group by o.dealer_id, l.product_id"""
        hit = """where s.units >= :min_units and s.trailing > 0
              and s.units * :trailing_days > :over * s.trailing * :window_days"""
        baseline = "s.trailing::numeric * :window_days / :trailing_days"
    return f"""shipped as (select o.dealer_id, l.product_id, {shipped}),
    hits as (
        select null::varchar as scan_id, null::varchar as code, s.dealer_id, s.product_id, d.region,
               '{trigger}'::varchar as trigger, null::numeric as price, null::numeric as guide_price,
               s.units::int as units, {baseline} as baseline, cast(:now as timestamptz) as at
        from shipped s join dealers d on d.id = s.dealer_id
        {hit}
          and not exists (select 1 from diversion_alerts a where a.dealer_id = s.dealer_id
                          and a.product_id = s.product_id and a.trigger = '{trigger}' and a.at > :since))"""


def sweep_patterns(session: Session, *, now: datetime) -> tuple[int, list[CaseStart]]:
    """Regional excess and stock-up over shipped orders, by the active rule file's thresholds: the
    alerts raised and the cases they opened. One statement per trigger; safe to run at any time."""
    active = rules(session)
    if active is None:
        return 0, []
    _, spec = active
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext("diversion:patterns"))))
    alerts, cases = 0, []
    for name in ("regional_excess", "stock_up"):
        trigger = spec.trigger(name)
        if trigger is None:
            continue
        window = timedelta(seconds=trigger.window_seconds)
        params = {"now": now, "since": now - window, "min_units": trigger.min_units, "over": trigger.over}
        if trigger.trailing_seconds:
            params.update(trailing_since=now - window - timedelta(seconds=trigger.trailing_seconds),
                          window_days=trigger.window_seconds // 86400, trailing_days=trigger.trailing_seconds // 86400)
        if find_alerts(session, _pattern_hits(name), params).hits:
            filed = file_alerts(session)
            alerts += filed.alerts
            cases += filed.cases
    return alerts, cases


def unstarted(session: Session, *, opened_before: datetime, limit: int = 500) -> list[CaseStart]:
    """Open cases whose workflow has not run: the API starts each after its commit; one it could not
    start (Temporal down, the process killed) is found here by the sweep."""
    q = (select(DiversionCase.id, func.coalesce(Dealer.code, ""), DiversionCase.region)
         .outerjoin(Dealer, Dealer.id == DiversionCase.dealer_id)
         .where(DiversionCase.status == "open", DiversionCase.started_at.is_(None),
                DiversionCase.opened_at < opened_before)
         .order_by(DiversionCase.opened_at).limit(limit))
    return [CaseStart(*row) for row in session.execute(q)]


# --- assessing, investigating, resolving -------------------------------------------------------------

_FIGURES = text("""
    select trigger, count(scan_id) as scans, max((guide_price - price) / guide_price) as price_gap,
           max(units) as units, max(units / nullif(baseline, 0)) as ratio
    from diversion_alerts where case_id = :case group by trigger order by trigger""")


def _dealer_facts(session: Session, case: DiversionCase) -> dict:
    """The dealer's facts and its confirmed cases of the last year; neutral ones for a case with no
    dealer (unknown codes): escalation rules about dealers then hold for nobody."""
    if case.dealer_id is None:
        return {"dealer.code": "", "dealer.region": case.region, "dealer.level": 0, "dealer.tier": "",
                "dealer.tags": [], "dealer.channel": "", "dealer.credit_points": credit_points.START,
                "dealer.confirmed_cases": 0}
    row = session.execute(select_facts().where(Dealer.id == case.dealer_id)).one()
    confirmed = session.scalar(select(func.count()).where(
        DiversionCase.dealer_id == case.dealer_id, DiversionCase.status == "confirmed",
        DiversionCase.resolved_at > func.now() - timedelta(days=365)))
    return {**facts_of(row), "dealer.confirmed_cases": confirmed}


def assess_case(session: Session, case: DiversionCase, ruleset: CompiledRuleset,
                spec: DiversionSpec) -> tuple[Assessment | None, dict]:
    """One engine call per trigger among the case's alerts; the most severe alert that holds decides
    the case (None: none holds). Returns it with the explanation stored on the case."""
    dealer = _dealer_facts(session, case)
    per_trigger = []
    for row in session.execute(_FIGURES, {"case": case.id}):
        facts = {**dealer, "alert.trigger": row.trigger, "alert.scans": row.scans,
                 "alert.price_gap": _decimal(row.price_gap), "alert.ratio": _decimal(row.ratio),
                 "alert.units": row.units or 0}
        per_trigger.append(assess(ruleset, spec, facts))
    decided = most_severe(per_trigger)
    explanation = {"ruleset": ruleset.name, "version": ruleset.version, "file": ruleset.rule_file.file,
                   "severity": decided.severity if decided else None,
                   "penalty": decided.penalty if decided else 0,
                   "triggers": [{"trigger": a.facts["alert.trigger"], "alert": a.alert, "severity": a.severity,
                                 "penalty": a.penalty, "rules": list(a.matched), "reason": a.reason, "facts": a.facts}
                                for a in per_trigger]}
    return decided, explanation


def case_value(severity: str | None, penalty: int) -> str:
    """A case's assessment as the shadow dashboard compares it: severity and penalty."""
    return f"{severity or 'none'} -{penalty}"


def record_shadows(session: Session, case: DiversionCase, ruleset: CompiledRuleset, explanation: dict,
                   stage: str) -> None:
    """Each running shadow version's assessment of the case, from the per-trigger facts the live one
    read (as replay reads them), stored beside it and never acted on."""
    shadows = rulebook.shadows(session, RULESET)
    if not shadows:
        return

    def evaluate(shadow: CompiledRuleset) -> dict:
        declared = shadow.rule_file.facts
        per = [assess(shadow, shadow.rule_file.spec, {k: v for k, v in t["facts"].items() if k in declared})
               for t in explanation["triggers"]]
        d = most_severe(per)
        severity, penalty = (d.severity, d.penalty) if d else (None, 0)
        return {"value": case_value(severity, penalty), "outcome": {"severity": severity, "penalty": penalty},
                "rule": ", ".join(m for a in per for m in a.matched), "reason": "; ".join(a.reason for a in per)}

    triggers = explanation["triggers"]
    rulebook.store_shadow_outcomes(session, [dict(
        ruleset=RULESET, subject=f"{case.id}:{stage}", live_version=ruleset.version,
        live=case_value(explanation["severity"], explanation["penalty"]),
        live_reason="; ".join(t["reason"] for t in triggers), shadow=rulebook.beside(shadows, evaluate),
        context={"dealer": (triggers[0]["facts"].get("dealer.code") if triggers else None) or None,
                 "region": case.region, "case": case.id})])


def _decimal(value) -> Decimal:
    """Exact as the database computed it: rounding here could put a figure on the other side of the
    threshold the database applied."""
    return Decimal(0) if value is None else Decimal(value).normalize()


def open_investigation(session: Session, inp: InvestigationInput) -> Investigation:
    """Assess the case and describe its investigation task (the same task on every retry). A case
    none of whose alerts holds by the active thresholds is dismissed by the rules."""
    case = session.scalars(select(DiversionCase).where(DiversionCase.id == inp.case_id).with_for_update()).one()
    case.started_at = case.started_at or inp.now
    if case.status != "open":
        return Investigation(case.id, case.status, case.severity, None, f"case already {case.status}")
    active = rules(session)
    if active is None:
        return _dismiss_by_rules(case, inp.now, "no diversion rule file is deployed")
    ruleset, spec = active
    decided, explanation = assess_case(session, case, ruleset, spec)
    case.assessment = explanation
    record_shadows(session, case, ruleset, explanation, "opened")
    if decided is None:
        return _dismiss_by_rules(case, inp.now, "; ".join(t["reason"] for t in explanation["triggers"]))
    case.severity = decided.severity
    case.task_id = case.task_id or uuid.UUID(inp.task_id)
    dealer = explanation["triggers"][0]["facts"].get("dealer.code") or "unknown dealer"
    product = session.scalar(select(Product.sku).where(Product.id == case.product_id)) or "unknown product"
    triggers = ", ".join(t["trigger"] for t in explanation["triggers"] if t["alert"])
    recent = session.execute(select(DiversionAlert.trigger, DiversionAlert.code, DiversionAlert.scan_id,
                                    DiversionAlert.price, DiversionAlert.at)
                             .where(DiversionAlert.case_id == case.id).order_by(DiversionAlert.id.desc())
                             .limit(TASK_ALERTS)).all()
    task = TaskSpec(
        task_id=str(case.task_id), kind="diversion_investigation",
        title=f"Diversion case {case.id}: {dealer}, {product} in {case.region} ({triggers}; {decided.severity})",
        subject_type="diversion_case", subject_id=str(case.id), dealer_id=case.dealer_id,
        assignee_role=spec.investigation_role, outcomes=["confirm", "dismiss"],
        sla_seconds=spec.investigation_sla_seconds, escalate_to=spec.escalate_to,
        payload={"case_id": case.id, "dealer": dealer, "product": product, "region": case.region,
                 "severity": decided.severity, "penalty": decided.penalty, "reason": decided.reason,
                 "alerts": session.scalar(select(func.count()).where(DiversionAlert.case_id == case.id)),
                 "link": f"/api/v1/cases/{case.id}",
                 "recent": [{"trigger": a.trigger, "code": a.code, "scan_id": a.scan_id,
                             "price": None if a.price is None else f"{a.price:.2f}", "at": a.at.isoformat()}
                            for a in recent]})
    return Investigation(case.id, "open", decided.severity, task, decided.reason)


def _dismiss_by_rules(case: DiversionCase, now: datetime, reason: str) -> Investigation:
    case.status, case.resolved_by, case.resolved_at, case.points = "dismissed", "rules", now, 0
    case.resolution = f"below the rule file's thresholds: {reason}"
    return Investigation(case.id, "dismissed", None, None, case.resolution)


def resolve(session: Session, inp: CaseOutcomeInput) -> CaseResult:
    """The investigator's answer. Confirmed: the case is assessed again with every alert it has now,
    and the dealer loses the points of its severity — once, whatever retries happen (the ledger's
    source key is the case). Dismissed: nothing else changes."""
    case = session.scalars(select(DiversionCase).where(DiversionCase.id == inp.case_id).with_for_update()).one()
    if case.status != "open":
        return CaseResult(case.id, case.status, case.severity, case.points or 0)
    note = f"{inp.task.outcome} by {inp.task.actor}" + (f": {inp.task.comment}" if inp.task.comment else "")
    case.resolved_by, case.resolved_at, case.resolution = inp.task.actor, inp.now, note
    if inp.task.outcome != "confirm":
        case.status, case.points = "dismissed", 0
        return CaseResult(case.id, "dismissed", case.severity, 0)
    active = rules(session)
    decided = None
    if active is not None:
        decided, explanation = assess_case(session, case, *active)
        case.assessment = explanation
        record_shadows(session, case, active[0], explanation, "confirmed")
    severity = decided.severity if decided else case.severity
    points = decided.penalty if decided else (active[1].penalties.get(severity, 0) if active and severity else 0)
    case.status, case.severity, case.points = "confirmed", severity, points
    if case.dealer_id is not None and points:
        credit_points.book(session, dealer_id=case.dealer_id, points=-points, source_type="diversion_case",
                           source_id=str(case.id), reason=f"diversion case {case.id} confirmed ({severity})")
        notify(session, dealer_id=case.dealer_id, kind="diversion", link=f"/api/v1/cases/{case.id}",
               title=f"Diversion case {case.id} confirmed: {points} credit points deducted ({severity})",
               body=note, dedup_key=f"case-confirmed:{case.id}")
    return CaseResult(case.id, "confirmed", severity, points)
