"""Policy rollout, the database side: targets resolved through the rule engine, delivery in batches,
acknowledgment, and chasing by set-based sweeps. The rollout workflow calls these through
activities; every step is idempotent, so a retried activity changes nothing twice.

A target's chase clock (`chase_from`) starts at its delivery and restarts at an amendment; the
reminders, escalations and deadline of the policy file are offsets from it."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from dealerflow.core.errors import Conflict, NotFound
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, FactError, compiled_for
from policies_dsl.kinds.policy import ACCOUNT_MANAGER, PolicySpec

from dealerflow.shared import rulebook, human_tasks as tasks, tier_benefits
from dealerflow.contracts import (AmendApplied, CloseInput, CloseResult, DeliverInput, PilotInput, PilotVerdict,
                                  RolloutPlan, SweepInput, SweepResult, TaskSpec)
from dealerflow.shared.dealer_facts import facts_of, select_facts
from dealerflow.contracts.policies import workflow_id_for
from dealerflow.models import Decision, Dealer, HumanTask, Policy, PolicyAssignment, PolicyTarget, User
from dealerflow.shared.notifications import notify_dealers
from dealerflow.policies.figures import SILENT, pilot_figures, policy_figures

TASK_NAMESPACE = uuid.UUID("6f1c4f8e-2b7a-4d1e-9a55-0c3e8f2d7b10")
ESCALATION_SLA = timedelta(days=2)
ESCALATION_LIST_LIMIT = 500  # dealers listed in one escalation task; the status page has them all


class PolicyNotFound(NotFound):
    pass


class PolicyStateError(Conflict):
    """The request does not fit where the policy stands (e.g. publishing a withdrawn version)."""



def policy_ruleset(session: Session, policy_id: str, version: int | None = None) -> CompiledRuleset:
    try:
        ruleset = rulebook.compiled(session, policy_id, version)
    except rulebook.UnknownRuleset as e:
        raise PolicyNotFound(str(e)) from None
    if ruleset.rule_file.kind != "policy":
        raise PolicyNotFound(f"{policy_id!r} is a {ruleset.rule_file.kind} rule file, not a policy")
    return ruleset


def spec_of(session: Session, policy_id: str, version: int | None = None) -> PolicySpec:
    return policy_ruleset(session, policy_id, version).rule_file.spec


# --- targeting ---------------------------------------------------------------------------------

def _targeted(session: Session, ruleset: CompiledRuleset):
    """(dealer row, facts) for every dealer the targeting rule selects, streamed."""
    benefits = tier_benefits.acts(session)
    for row in session.execute(select_facts().execution_options(yield_per=2000)):
        facts = {**facts_of(row), **tier_benefits.facts(row.tier, benefits)}
        if ruleset.decide(facts).outcome.get("targeted"):
            yield row, facts


def preview(session: Session, policy_id: str, version: int | None = None, *, sample: int = 50) -> dict:
    """Who a publish would reach, without writing anything."""
    ruleset = policy_ruleset(session, policy_id, version)
    spec = ruleset.rule_file.spec
    by_region: dict[str, list] = defaultdict(list)
    for row, _ in _targeted(session, ruleset):
        by_region[row.region].append((row.id, row.code))
    pilot = _pilot_sample(policy_id, by_region, spec.pilot.share) if spec.pilot else set()
    codes = sorted(code for rows in by_region.values() for _, code in rows)
    return {"policy_id": policy_id, "version": ruleset.version, "target": spec.target,
            "targets": len(codes), "pilot_targets": len(pilot),
            "by_region": {r: len(v) for r, v in sorted(by_region.items())}, "sample": codes[:sample]}


def _pilot_sample(policy_id: str, by_region: dict, share: Decimal) -> set[int]:
    """A deterministic, region-balanced sample: in every region the same share of its targets
    (at least one), chosen by a hash of policy and dealer so a re-run picks the same dealers."""
    chosen: set[int] = set()
    for rows in by_region.values():
        n = max(1, int((share * len(rows)).quantize(Decimal(1), ROUND_HALF_UP)))
        ranked = sorted(rows, key=lambda r: hashlib.sha256(f"{policy_id}:{r[1]}".encode()).digest())
        chosen.update(dealer_id for dealer_id, _ in ranked[:n])
    return chosen


_UPSERT_TARGETS = text("""
    insert into policy_targets (policy_id, dealer_id, pilot, targeted_version, facts, reminders_sent, escalation_level)
    select :policy, t.dealer_id, false, :version, t.facts, 0, 0
    from jsonb_to_recordset(cast(:rows as jsonb)) as t(dealer_id int, facts jsonb)
    on conflict (policy_id, dealer_id) do update
    set targeted_version = excluded.targeted_version, facts = excluded.facts, removed_at = null""")


SHADOW_SAMPLE = 20  # dealer codes kept per side of a shadow's disagreement; the counts are exact


class _ShadowTargets:
    """A shadow version's targeting, evaluated beside the live one on the same dealer facts during a
    rollout's single pass over the dealers: who it would add and drop, never acted on."""

    def __init__(self, running: list[CompiledRuleset]):
        self.running = running
        self.added = {str(s.version): [] for s in running}
        self.dropped = {str(s.version): [] for s in running}
        self.errors: dict[str, str] = {}

    def see(self, row, facts: dict, live: bool) -> None:
        for shadow in self.running:
            v = str(shadow.version)
            if v in self.errors:
                continue
            try:
                targeted = bool(shadow.decide(facts).outcome.get("targeted"))
            except (FactError, KeyError, TypeError, ValueError) as e:  # a shadow never fails the rollout
                self.errors[v] = f"{row.code}: {e or type(e).__name__}"
                continue
            if targeted != live:
                (self.added if targeted else self.dropped)[v].append(row.code)

    def outcome(self, ruleset: CompiledRuleset, targets: int, now: datetime) -> dict:
        """The shadow_outcomes row of this rollout: the live target count against each shadow's."""
        shadow = {}
        for v in self.added:
            if v in self.errors:
                shadow[v] = {"error": self.errors[v]}
                continue
            added, dropped = sorted(self.added[v]), sorted(self.dropped[v])
            shadow[v] = {"value": _targets_value(targets + len(added) - len(dropped), len(added), len(dropped)),
                         "outcome": {"targets": targets + len(added) - len(dropped), "added": len(added),
                                     "dropped": len(dropped), "added_sample": added[:SHADOW_SAMPLE],
                                     "dropped_sample": dropped[:SHADOW_SAMPLE]},
                         "rule": "target", "reason": _shadow_reason(added, dropped)}
        return dict(ruleset=ruleset.name, subject=f"v{ruleset.version}@{now.isoformat()}",
                    live_version=ruleset.version, live=_targets_value(targets, 0, 0),
                    live_reason=f"target: {ruleset.rule_file.spec.target}", shadow=shadow,
                    context={"policy": ruleset.name, "version": ruleset.version, "targets": targets})


def _targets_value(targets: int, added: int, dropped: int) -> str:
    """What the dashboard compares: the target count, and the dealers a shadow adds or drops (equal
    to the live value only when the shadow targets exactly the same dealers)."""
    return f"{targets}" if not (added or dropped) else f"{targets} (+{added} -{dropped})"


def _shadow_reason(added: list[str], dropped: list[str]) -> str:
    def some(codes: list[str]) -> str:
        return ", ".join(codes[:5]) + (" …" if len(codes) > 5 else "")
    parts = ([f"adds {len(added)}: {some(added)}"] if added else []) + \
            ([f"drops {len(dropped)}: {some(dropped)}"] if dropped else [])
    return "; ".join(parts) or "same targets"


def _evaluated(session: Session, ruleset: CompiledRuleset, shadows: _ShadowTargets | None):
    """As `_targeted`; with running shadows, every dealer's facts also go to them in the same pass."""
    if shadows is None:
        yield from _targeted(session, ruleset)
        return
    benefits = tier_benefits.acts(session)
    for row in session.execute(select_facts().execution_options(yield_per=2000)):
        facts = {**facts_of(row), **tier_benefits.facts(row.tier, benefits)}
        live = bool(ruleset.decide(facts).outcome.get("targeted"))
        shadows.see(row, facts, live)
        if live:
            yield row, facts


def resolve_targets(session: Session, ruleset: CompiledRuleset, *, now: datetime, choose_pilot: bool) -> tuple[int, int]:
    """Write the targets of this version (and drop dealers it no longer targets). Returns
    (targets, pilot targets). Running shadow versions of the policy are evaluated on the same dealer
    facts and their disagreement stored with the rollout (shadow_outcomes), never acted on."""
    policy_id, version, spec = ruleset.name, ruleset.version, ruleset.rule_file.spec
    running = rulebook.shadows(session, policy_id)
    shadows = _ShadowTargets(running) if running else None
    by_region: dict[str, list] = defaultdict(list)
    chunk: list[dict] = []
    for row, facts in _evaluated(session, ruleset, shadows):
        by_region[row.region].append((row.id, row.code))
        chunk.append({"dealer_id": row.id, "facts": facts})
        if len(chunk) == 2000:
            session.execute(_UPSERT_TARGETS, {"policy": policy_id, "version": version, "rows": json.dumps(chunk)})
            chunk = []
    if chunk:
        session.execute(_UPSERT_TARGETS, {"policy": policy_id, "version": version, "rows": json.dumps(chunk)})
    session.execute(update(PolicyTarget).where(
        PolicyTarget.policy_id == policy_id, PolicyTarget.targeted_version < version,
        PolicyTarget.removed_at.is_(None)).values(removed_at=now))
    targets = sum(len(v) for v in by_region.values())
    if shadows is not None:
        rulebook.store_shadow_outcomes(session, [shadows.outcome(ruleset, targets, now)])
    pilot: set[int] = set()
    if choose_pilot and spec.pilot:
        pilot = _pilot_sample(policy_id, by_region, spec.pilot.share)
        session.execute(update(PolicyTarget).where(PolicyTarget.policy_id == policy_id,
                                                   PolicyTarget.dealer_id.in_(pilot)).values(pilot=True))
    return targets, len(pilot)


# --- publishing --------------------------------------------------------------------------------

def begin_rollout(session: Session, *, policy_id: str, version: int, actor: str, now: datetime) -> RolloutPlan:
    """First step of a rollout: the policy row, its targets and the pilot (first publication only)."""
    ruleset = policy_ruleset(session, policy_id, version)
    spec: PolicySpec = ruleset.rule_file.spec
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"policy:{policy_id}"))))
    policy = session.get(Policy, policy_id)
    if policy is not None and policy.version == version and policy.closed_at is None:  # a retried first step
        counts = session.execute(select(func.count(), func.count().filter(PolicyTarget.pilot)).where(
            PolicyTarget.policy_id == policy_id, PolicyTarget.removed_at.is_(None))).one()
        return plan_of(spec, version, counts[0], counts[1] if policy.status == "pilot" else 0)
    if policy is not None:  # published before and closed since: roll the new version out as an amendment
        policy.status, policy.published_by, policy.published_at, policy.closed_at = "rolling_out", actor, now, None
        return amend(session, AmendApplied(policy_id, version, now))
    policy = Policy(id=policy_id, version=version, title=spec.title, category=spec.category,
                    status="pilot" if spec.pilot else "rolling_out", workflow_id=workflow_id_for(policy_id),
                    published_by=actor)
    session.add(policy)
    session.flush()
    targets, pilot = resolve_targets(session, ruleset, now=now, choose_pilot=True)
    return plan_of(spec, version, targets, pilot)


def plan_of(spec: PolicySpec, version: int, targets: int, pilot: int) -> RolloutPlan:
    ack = spec.acknowledgment
    offsets = set(ack.reminders) | {e.after_seconds for e in ack.escalations}
    if ack.deadline_seconds:
        offsets.add(ack.deadline_seconds)
    for task in spec.tasks:
        offsets.add(task.due_seconds)
        if task.remind_before_seconds:
            offsets.add(task.due_seconds - task.remind_before_seconds)
    close_at = datetime.combine(spec.effective_to + timedelta(days=1), time(), tzinfo=timezone.utc)
    return RolloutPlan(
        policy_id=spec.id, version=version, targets=targets, pilot_targets=pilot, chase_offsets=sorted(offsets),
        close_at=close_at, pilot_seconds=spec.pilot.duration_seconds if (spec.pilot and pilot) else None,
        pilot_decided_by=spec.pilot.decided_by if spec.pilot else None,
        pilot_decision_sla_seconds=spec.pilot.decision_sla_seconds if spec.pilot else None)


def set_status(session: Session, policy_id: str, status: str, **values) -> None:
    session.execute(update(Policy).where(Policy.id == policy_id).values(status=status, **values))


_DELIVER = text("""
    with batch as (
        select dealer_id from policy_targets
        where policy_id = :policy and delivered_at is null and removed_at is null and (pilot or not :pilot_only)
        order by dealer_id limit :limit for update skip locked)
    update policy_targets t
    set delivered_at = :now, delivered_version = :version, chase_from = :now,
        ack_due_at = :now + cast(:deadline as interval)
    from batch where t.policy_id = :policy and t.dealer_id = batch.dealer_id
    returning t.dealer_id""")

_ASSIGN = text("""
    insert into policy_assignments (id, policy_id, task_key, dealer_id, status, due_at, submissions, created_at)
    select gen_random_uuid(), :policy, :key, d, 'assigned', :now + cast(:due as interval), 0, now()
    from unnest(:dealers) as d
    on conflict (policy_id, task_key, dealer_id) do nothing""").bindparams(bindparam("dealers"))


def _interval(seconds: int | None) -> str | None:
    return None if seconds is None else f"{seconds} seconds"


def deliver_batch(session: Session, inp: DeliverInput) -> int:
    """Deliver to the next `limit` undelivered targets: inbox entry, task assignments, notice.
    Returns how many were delivered (0: nothing left)."""
    spec = spec_of(session, inp.policy_id, inp.version)
    dealers = [r[0] for r in session.execute(_DELIVER, {
        "policy": inp.policy_id, "pilot_only": inp.pilot_only, "limit": inp.limit, "now": inp.now,
        "version": inp.version, "deadline": _interval(spec.acknowledgment.deadline_seconds)})]
    _assign(session, spec, dealers, inp.now)
    notify_dealers(session, dealers, kind="policy", title=f"New policy: {spec.title}",
                   body="Please read and acknowledge." if spec.acknowledgment.required else "",
                   link=f"/console/policies/{spec.id}", dedup=f"policy:{spec.id}:v{inp.version}:delivered")
    return len(dealers)


def _assign(session: Session, spec: PolicySpec, dealers: list[int], now: datetime) -> None:
    for task in spec.tasks:
        if dealers:
            session.execute(_ASSIGN, {"policy": spec.id, "key": task.key, "dealers": dealers, "now": now,
                                      "due": _interval(task.due_seconds)})


# --- acknowledgment ----------------------------------------------------------------------------

def delivered_target(session: Session, policy_id: str, dealer_id: int) -> PolicyTarget | None:
    """The dealer's delivery of this policy, or None: a policy not delivered to a dealer does not
    exist for it."""
    return session.scalars(select(PolicyTarget).where(
        PolicyTarget.policy_id == policy_id, PolicyTarget.dealer_id == dealer_id,
        PolicyTarget.delivered_at.is_not(None), PolicyTarget.removed_at.is_(None))).first()


def acknowledge(session: Session, *, policy_id: str, dealer_id: int, now: datetime) -> PolicyTarget:
    """Acknowledge the delivered version; idempotent: a second call returns the first acknowledgment."""
    target = session.scalars(update(PolicyTarget).where(
        PolicyTarget.policy_id == policy_id, PolicyTarget.dealer_id == dealer_id,
        PolicyTarget.delivered_at.is_not(None), PolicyTarget.removed_at.is_(None),
        PolicyTarget.acknowledged_version.is_distinct_from(PolicyTarget.delivered_version),
    ).values(acknowledged_at=now, acknowledged_version=PolicyTarget.delivered_version,
             acknowledged_late=func.coalesce(PolicyTarget.ack_due_at < now, False),
             read_at=func.coalesce(PolicyTarget.read_at, now)).returning(PolicyTarget)
        .execution_options(synchronize_session=False)).first()
    target = target or delivered_target(session, policy_id, dealer_id)  # acknowledged before, or not delivered
    if target is None:
        raise PolicyNotFound(policy_id)
    return target


def mark_read(session: Session, *, policy_id: str, dealer_id: int, now: datetime) -> None:
    session.execute(update(PolicyTarget).where(
        PolicyTarget.policy_id == policy_id, PolicyTarget.dealer_id == dealer_id,
        PolicyTarget.read_at.is_(None)).values(read_at=now))


# --- chasing -----------------------------------------------------------------------------------

_SILENT = f"t.policy_id = :policy and t.removed_at is null and {SILENT}"


def sweep(session: Session, inp: SweepInput) -> SweepResult:
    """Everything due by `now`: reminders, escalations, overdue acknowledgments, task reminders
    and overdue tasks. Each step marks what it did, so running it again does nothing new."""
    spec = spec_of(session, inp.policy_id, inp.version)
    ack, p, now = spec.acknowledgment, spec.id, inp.now
    out = SweepResult()
    link = f"/console/policies/{p}"
    if ack.required:
        for i, offset in enumerate(ack.reminders):
            dealers = _chase_step(session, p, "reminders_sent", i + 1, offset, now)
            notify_dealers(session, dealers, kind="reminder", title=f"Reminder: please acknowledge '{spec.title}'",
                           link=link, dedup=f"policy:{p}:v{inp.version}:reminder{i + 1}:{now.isoformat()}")
            out.reminded += len(dealers)
        for j, step in enumerate(ack.escalations):
            dealers = _chase_step(session, p, "escalation_level", j + 1, step.after_seconds, now)
            out.escalated += len(dealers)
            out.escalation_tasks += _escalation_tasks(session, spec, inp, j, step.to, dealers)
        dealers = _returning(session, f"""
            update policy_targets t set overdue_at = :now where {_SILENT}
            and overdue_at is null and ack_due_at <= :now returning dealer_id""", policy=p, now=now)
        notify_dealers(session, dealers, kind="overdue", title=f"Overdue: acknowledge '{spec.title}'",
                       link=link, dedup=f"policy:{p}:v{inp.version}:overdue:{now.isoformat()}")
        out.overdue = len(dealers)
    for task in spec.tasks:
        if task.remind_before_seconds:
            dealers = _returning(session, """
                update policy_assignments set reminded_at = :now
                where policy_id = :policy and task_key = :key and status in ('assigned', 'returned')
                and reminded_at is null and due_at - cast(:before as interval) <= :now returning dealer_id""",
                policy=p, key=task.key, before=_interval(task.remind_before_seconds), now=now)
            notify_dealers(session, dealers, kind="reminder", title=f"Task due soon: {task.title}",
                           link="/console/policy-tasks", dedup=f"policy:{p}:task:{task.key}:reminder")
            out.tasks_reminded += len(dealers)
        dealers = _returning(session, """
            update policy_assignments set overdue_at = :now
            where policy_id = :policy and task_key = :key and status in ('assigned', 'returned')
            and overdue_at is null and due_at <= :now returning dealer_id""", policy=p, key=task.key, now=now)
        notify_dealers(session, dealers, kind="overdue", title=f"Task overdue: {task.title}",
                       link="/console/policy-tasks", dedup=f"policy:{p}:task:{task.key}:overdue")
        out.tasks_overdue += len(dealers)
    return out


def _chase_step(session: Session, policy_id: str, counter: str, step: int, after_seconds: int,
                now: datetime) -> list[int]:
    """Silent targets whose chase clock has run `after_seconds` and whose `counter` (reminders_sent
    or escalation_level) is below `step`: set it to `step`; returns their dealer ids."""
    return _returning(session, f"""
        update policy_targets t set {counter} = :n where {_SILENT}
        and {counter} < :n and chase_from + cast(:after as interval) <= :now returning dealer_id""",
                      policy=policy_id, n=step, after=_interval(after_seconds), now=now)


def _returning(session: Session, sql: str, **params) -> list[int]:
    return [r[0] for r in session.execute(text(sql), params)]


def _escalation_tasks(session: Session, spec: PolicySpec, inp: SweepInput, step: int, to: str,
                      dealers: list[int]) -> list[TaskSpec]:
    """One task per account manager listing their silent dealers (to: account_manager), or one for
    the role. The task rows are written here, in the sweep's transaction; the workflow then starts
    a human-task workflow for each, whose own open_task finds the row already there."""
    if not dealers:
        return []
    rows = session.execute(select(Dealer.id, Dealer.code, Dealer.name, Dealer.account_manager)
                           .where(Dealer.id.in_(dealers)).order_by(Dealer.code)).all()
    groups: dict[str | None, list] = defaultdict(list)
    for row in rows:
        groups[row.account_manager if to == ACCOUNT_MANAGER else None].append(row)
    managers = {u.username: u.id for u in session.execute(select(User.username, User.id).where(
        User.role == ACCOUNT_MANAGER, User.username.in_([g for g in groups if g])))}
    specs = []
    for manager, members in sorted(groups.items(), key=lambda g: g[0] or ""):
        user_id = managers.get(manager) if manager else None
        # A dealer whose account manager has no login falls back to HQ: nobody slips through.
        role = ACCOUNT_MANAGER if user_id else (to if to != ACCOUNT_MANAGER else "hq")
        key = f"{spec.id}:v{inp.version}:escalation{step + 1}:{manager or role}:{inp.now.isoformat()}"
        task = TaskSpec(
            task_id=str(uuid.uuid5(TASK_NAMESPACE, key)), kind="policy_escalation",
            title=f"{len(members)} dealer(s) have not acknowledged '{spec.title}'"
                  + (f" ({manager})" if manager else ""),
            subject_type="policy", subject_id=spec.id, assignee_role=role, assignee_user_id=user_id,
            outcomes=["contacted"], sla_seconds=int(ESCALATION_SLA.total_seconds()),
            payload={"policy_id": spec.id, "version": inp.version, "account_manager": manager,
                     "silent_dealers": len(members),
                     "dealers": [{"code": m.code, "name": m.name} for m in members[:ESCALATION_LIST_LIMIT]]})
        tasks.open_task(session, task, workflow_id=f"task-{task.task_id}", now=inp.now)
        specs.append(task)
    return specs


# --- pilot -------------------------------------------------------------------------------------

def pilot_verdict(session: Session, inp: PilotInput) -> PilotVerdict:
    """Promote or not by the policy's promotion rules; the decision is stored with its explanation."""
    spec = spec_of(session, inp.policy_id, inp.version)
    figures = pilot_figures(session, inp.policy_id)
    promote_rules = spec.pilot.promote
    ruleset = compiled_for(promote_rules.name, inp.version, promote_rules.sha256, lambda: promote_rules)
    decision = ruleset.decide({f"pilot.{k}": v for k, v in figures.items()})
    subject = f"{inp.policy_id}@v{inp.version}"
    session.execute(insert(Decision).values(
        subject_type="policy_pilot", subject_id=subject, ruleset=inp.policy_id, version=inp.version,
        rule=decision.rule, outcome=decision.outcome, explanation=decision.to_dict(),
    ).on_conflict_do_nothing(constraint="decision_once"))
    promote = bool(decision.outcome.get("promote"))
    session.execute(update(Policy).where(Policy.id == inp.policy_id).values(
        pilot_decision="promote" if promote else "hold"))
    return PilotVerdict(promote, decision.reason, decision.facts)


def pilot_task(session: Session, inp: PilotInput) -> TaskSpec:
    """The HQ decision on a pilot, with its figures."""
    spec = spec_of(session, inp.policy_id, inp.version)
    figures = {k: str(v) for k, v in pilot_figures(session, inp.policy_id).items()}
    set_status(session, inp.policy_id, "awaiting_decision")
    return TaskSpec(task_id=inp.task_id, kind="policy_pilot_decision",
                    title=f"Pilot of '{spec.title}': promote, amend or cancel",
                    subject_type="policy", subject_id=spec.id, assignee_role=spec.pilot.decided_by or "hq",
                    outcomes=["promote", "amend", "cancel"], sla_seconds=spec.pilot.decision_sla_seconds or 2 * 86400,
                    escalate_to="admin", payload={"policy_id": spec.id, "version": inp.version, "figures": figures})


def record_pilot_outcome(session: Session, policy_id: str, outcome: str) -> None:
    session.execute(update(Policy).where(Policy.id == policy_id).values(pilot_decision=outcome))


# --- amendment, withdrawal, close --------------------------------------------------------------

def amend(session: Session, inp: AmendApplied) -> RolloutPlan:
    """A new version replaces the one being rolled out: targets re-resolved, and every dealer it was
    delivered to gets the new version, to acknowledge again, with a fresh chase clock."""
    ruleset = policy_ruleset(session, inp.policy_id, inp.version)
    spec: PolicySpec = ruleset.rule_file.spec
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"policy:{inp.policy_id}"))))
    policy = session.get(Policy, inp.policy_id)
    policy.version, policy.title, policy.category = inp.version, spec.title, spec.category
    targets, _ = resolve_targets(session, ruleset, now=inp.now, choose_pilot=False)
    redelivered = _returning(session, """
        update policy_targets set delivered_version = :version, chase_from = :now,
            ack_due_at = :now + cast(:deadline as interval), reminders_sent = 0, escalation_level = 0,
            overdue_at = null, read_at = null
        where policy_id = :policy and delivered_at is not null and removed_at is null
        and delivered_version < :version returning dealer_id""",
        policy=inp.policy_id, version=inp.version, now=inp.now,
        deadline=_interval(spec.acknowledgment.deadline_seconds))
    _assign(session, spec, redelivered, inp.now)
    notify_dealers(session, redelivered, kind="policy", title=f"Policy amended: {spec.title}",
                   body="The policy changed; please read it and acknowledge again.",
                   link=f"/console/policies/{spec.id}", dedup=f"policy:{spec.id}:v{inp.version}:amended")
    return plan_of(spec, inp.version, targets, 0)


def close(session: Session, inp: CloseInput) -> CloseResult:
    """End a rollout: final figures kept on the policy. Withdrawal and cancellation also cancel open
    assignments and tell the dealers. Returns the human-task workflows still open, to cancel."""
    policy = session.get(Policy, inp.policy_id)
    q = select(HumanTask.id, HumanTask.workflow_id).where(
        HumanTask.subject_type == "policy", HumanTask.subject_id == inp.policy_id, HumanTask.status == "open")
    if inp.status == "closed":  # evidence sent in time is still reviewed after the window closes
        q = q.where(HumanTask.kind != "evidence_review")
    open_tasks = session.execute(q).all()
    if inp.status != "closed":
        session.execute(update(PolicyAssignment).where(
            PolicyAssignment.policy_id == inp.policy_id,
            PolicyAssignment.status.in_(("assigned", "returned", "submitted"))).values(status="cancelled"))
        dealers = list(session.scalars(select(PolicyTarget.dealer_id).where(
            PolicyTarget.policy_id == inp.policy_id, PolicyTarget.delivered_at.is_not(None))))
        notify_dealers(session, dealers, kind="policy", title=f"Policy withdrawn: {policy.title}",
                       body=inp.reason, link=f"/console/policies/{inp.policy_id}",
                       dedup=f"policy:{inp.policy_id}:v{policy.version}:{inp.status}")
        for task_id, _ in open_tasks:
            tasks.cancel(session, str(task_id), inp.actor, f"policy {inp.status}")
    figures = policy_figures(session, policy, spec_of(session, inp.policy_id, policy.version), now=inp.now)
    policy.status, policy.closed_at, policy.final_figures = inp.status, inp.now, _json_safe(figures)
    return CloseResult([wf for _, wf in open_tasks], _json_safe(figures))


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value
