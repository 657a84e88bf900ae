"""How the console names the values of the domain (statuses, stages, roles, outcomes, kinds): the
English text of each, translated where it is shown (the `label` filter of the templates). A value
not listed is shown as it is."""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction (pybabel); translated where it is shown."""
    return message


LABELS: dict[str, str] = {
    # roles
    "admin": N_("admin"), "hq": N_("HQ"), "credit_manager": N_("credit manager"),
    "account_manager": N_("account manager"), "region_manager": N_("region manager"), "finance": N_("finance"),
    "dealer": N_("dealer"), "system": N_("system"), "auto": N_("automatic"),
    "credit-rules": N_("automatic credit check"),
    # notes of an order's history written by the service
    "order placed": N_("order placed"), "cancelled by the dealer": N_("cancelled by the dealer"),
    # orders
    "submitted": N_("submitted"), "approved": N_("approved"), "pending_review": N_("pending review"),
    "rejected": N_("rejected"), "cancelled": N_("cancelled"), "shipped": N_("shipped"), "delivered": N_("delivered"),
    "completed": N_("completed"),
    # credit decisions and task outcomes
    "approve": N_("approve"), "reject": N_("reject"), "review": N_("review"), "revise": N_("revise"),
    "uphold": N_("uphold"), "promote": N_("promote"), "amend": N_("amend"), "cancel": N_("cancel"),
    "accept": N_("accept"), "return": N_("return"),
    # tasks
    "open": N_("open"), "opened": N_("opened"), "reminded": N_("reminded"), "escalated": N_("escalated"),
    # policies
    "draft": N_("draft"), "publishing": N_("publishing"), "pilot": N_("pilot"),
    "awaiting_decision": N_("awaiting decision"), "rolling_out": N_("rolling out"), "active": N_("active"),
    "closed": N_("closed"), "withdrawn": N_("withdrawn"),
    # policy tasks
    "assigned": N_("assigned"), "returned": N_("returned"), "accepted": N_("accepted"),
    "photo": N_("photo"), "video": N_("video"), "document": N_("document"), "figures": N_("figures"),
    # settlement runs and statements
    "freezing": N_("freezing"), "awaiting_confirmation": N_("awaiting confirmation"),
    "awaiting_approval": N_("awaiting approval"), "posting": N_("posting"), "failed": N_("failed"),
    "starting": N_("starting"), "issued": N_("issued"), "confirmed": N_("confirmed"), "disputed": N_("disputed"),
    "superseded": N_("superseded"),
    # tiering
    "core": N_("core"), "key": N_("key"), "normal": N_("normal"),
    "unchanged": N_("unchanged"), "proposed": N_("proposed"), "applied": N_("applied"),
    # failing processes
    "failing": N_("failing"), "resolved": N_("resolved"),
    # anti-diversion: cases, triggers, severities, who scanned
    "dismissed": N_("dismissed"), "out_of_region": N_("out of region"), "price": N_("under the guide price"),
    "unknown_code": N_("unknown code"), "regional_excess": N_("regional excess"), "stock_up": N_("sudden stock-up"),
    "low": N_("low"), "medium": N_("medium"), "high": N_("high"), "critical": N_("critical"),
    "store": N_("store"), "consumer": N_("consumer"), "inspector": N_("inspector"), "sale": N_("sale at a terminal"),
    # channel inventory: advice, its status, where a stock figure comes from
    "clearance": N_("clearance promotion"), "cut_replenishment": N_("cut replenishment"), "reorder": N_("reorder"),
    "push_promotion": N_("promotion resources"), "drafted": N_("in a draft order"), "ordered": N_("ordered"),
    "policy_drafted": N_("policy drafted"), "reported": N_("reported"), "estimated": N_("estimated"),
    "forecast": N_("forecast"), "history": N_("sales history"), "placed": N_("placed"),
    "handled": N_("handled"), "escalate": N_("escalate"),
    # kinds of task
    "order_credit_review": N_("credit review of an order"), "evidence_review": N_("review of policy evidence"),
    "policy_escalation": N_("dealers silent on a policy"), "policy_pilot_decision": N_("decision on a policy pilot"),
    "statement_dispute": N_("disputed statement"), "settlement_approval": N_("approval of a settlement"),
    "tier_downgrade": N_("approval of tier downgrades"), "dealer_activation": N_("activation of silent dealers"),
    "diversion_investigation": N_("diversion investigation"),
    "inventory_red_items": N_("red stock items of your dealers"),
    # kinds of notification
    "reminder": N_("reminder"), "overdue": N_("overdue"), "escalation": N_("escalation"), "task": N_("task"),
    "question": N_("question"), "answer": N_("answer"), "statement": N_("statement"), "settlement": N_("settlement"),
    "policy": N_("policy"), "tier": N_("tier"), "tiering": N_("tiering"), "diversion": N_("diversion"),
    "process_failure": N_("process failure"), "delivery": N_("delivery"), "rebate": N_("rebate"),
    "points": N_("points"), "payment": N_("payment"),
    # imports
    "shipments": N_("shipments"), "deliveries": N_("deliveries"), "returns": N_("returns"),
    "payments": N_("payments"),
    # periods
    "quarter": N_("quarter"), "month": N_("month"), "year": N_("year"),
}
