"""A human task's title in the reader's language. Tasks store an English title for logs and the
Temporal UI; the console composes the title a person reads from the task's kind and payload, with
the locale's catalog. A kind not listed here shows its stored title."""
from __future__ import annotations

from typing import Callable

from api.i18n import money
from api.labels import N_


def _policy(p: dict) -> str:
    return p.get("policy_id") or ""


# kind → (msgid with placeholders, the placeholders from the task's payload and subject)
TITLES: dict[str, tuple[str, Callable[[dict, str, str], dict]]] = {
    "order_credit_review": (N_("Credit review: %(dealer)s, order %(order)s, %(amount)s"),
                            lambda p, s, loc: {"dealer": p.get("dealer", ""), "order": s[:8],
                                               "amount": money(p.get("amount"), loc)}),
    "order_stock_review": (N_("Stock review: %(dealer)s, order %(order)s, %(amount)s"),
                           lambda p, s, loc: {"dealer": p.get("dealer", ""), "order": s[:8],
                                              "amount": money(p.get("amount"), loc)}),
    "evidence_review": (N_("Review evidence of %(policy)s: %(dealer)s (attempt %(attempt)s)"),
                        lambda p, s, loc: {"policy": _policy(p), "dealer": p.get("dealer", ""),
                                           "attempt": p.get("attempt", 1)}),
    "policy_escalation": (N_("%(count)s dealer(s) have not acknowledged %(policy)s"),
                          lambda p, s, loc: {"count": p.get("silent_dealers", 0), "policy": _policy(p)}),
    "policy_pilot_decision": (N_("Pilot of %(policy)s: promote, amend or cancel"),
                              lambda p, s, loc: {"policy": _policy(p)}),
    "statement_dispute": (N_("Statement dispute: %(dealer)s, %(run)s, rebate %(rebate)s"),
                          lambda p, s, loc: {"dealer": p.get("dealer", ""), "run": p.get("run_id", ""),
                                             "rebate": money(p.get("rebate"), loc)}),
    "settlement_approval": (N_("Approve rebates %(run)s: %(total)s to %(count)s dealers"),
                            lambda p, s, loc: {"run": p.get("run_id", s), "total": money(p.get("total"), loc),
                                               "count": p.get("statements", 0)}),
    "tier_downgrade": (N_("Re-tiering %(month)s: approve %(count)s downgrade(s)"),
                       lambda p, s, loc: {"month": p.get("month", s), "count": p.get("count", 0)}),
    "dealer_activation": (N_("Activate %(count)s silent dealer(s) (%(month)s)"),
                          lambda p, s, loc: {"count": p.get("silent_dealers", 0), "month": p.get("month", s)}),
    "diversion_investigation": (N_("Diversion case %(case)s: %(dealer)s, %(product)s in %(region)s"),
                                lambda p, s, loc: {"case": p.get("case_id", s), "dealer": p.get("dealer") or "",
                                                   "product": p.get("product") or "", "region": p.get("region", "")}),
    "credit_limit_change": (N_("Credit limit of %(dealer)s: %(old)s → %(new)s (asked by %(by)s)"),
                            lambda p, s, loc: {"dealer": p.get("dealer", s), "old": money(p.get("old_limit"), loc),
                                               "new": money(p.get("new_limit"), loc), "by": p.get("requested_by", "")}),
    "credit_increase": (N_("Credit %(month)s: raise %(dealer)s to %(limit)s (+%(change)s), approval %(step)s of %(of)s"),
                        lambda p, s, loc: {"month": p.get("month", ""), "dealer": p.get("dealer", ""),
                                           "limit": money(p.get("to"), loc), "change": money(p.get("change"), loc),
                                           "step": p.get("step", 1), "of": p.get("approvals", 1)}),
    "rule_proposal": (N_("Approve rule change: %(ruleset)s, proposed by %(who)s"),
                      lambda p, s, loc: {"ruleset": p.get("ruleset", ""), "who": p.get("proposed_by", "")}),
}


def task_title(task, gettext: Callable[[str], str], locale: str) -> str:
    """`task`: a task read model or row with kind, payload, subject_id and title."""
    get = (lambda k: task.get(k)) if isinstance(task, dict) else (lambda k: getattr(task, k, None))
    entry = TITLES.get(get("kind") or "")
    if entry is None:
        return get("title") or ""
    msgid, values = entry
    try:
        return gettext(msgid) % values(get("payload") or {}, str(get("subject_id") or ""), locale)
    except (KeyError, TypeError, ValueError):  # a payload of an older shape: the stored title
        return get("title") or ""
