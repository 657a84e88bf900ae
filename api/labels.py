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
    # master data: dealer statuses, channels, how a change came, what an import does
    "suspended": N_("suspended"), "ended": N_("ended"), "pending": N_("pending"),
    "retail": N_("retail"), "wholesale": N_("wholesale"), "engineering": N_("engineering projects"),
    "ecommerce": N_("e-commerce"), "api": N_("API"), "console": N_("console"), "import": N_("import"),
    "approval": N_("approval"), "created": N_("new"), "updated": N_("changed"),
    "dealers": N_("dealers"), "products": N_("products"), "users": N_("users"),
    # stock: allocations of order lines and what the allocation rules decide when stock is short
    "reserved": N_("reserved"), "backordered": N_("waiting for stock"), "released": N_("released"),
    "consumed": N_("shipped"), "backorder": N_("backorder"), "partial": N_("partial"),
    "store": N_("store"), "consumer": N_("consumer"), "inspector": N_("inspector"), "sale": N_("sale at a terminal"),
    # channel inventory: advice, its status, where a stock figure comes from
    "clearance": N_("clearance promotion"), "cut_replenishment": N_("cut replenishment"), "reorder": N_("reorder"),
    "push_promotion": N_("promotion resources"), "drafted": N_("in a draft order"), "ordered": N_("ordered"),
    "policy_drafted": N_("policy drafted"), "reported": N_("reported"), "estimated": N_("estimated"),
    "forecast": N_("forecast"), "history": N_("sales history"), "placed": N_("placed"),
    "handled": N_("handled"), "escalate": N_("escalate"),
    # kinds of task
    "order_credit_review": N_("credit review of an order"),
    "order_stock_review": N_("stock review of an order"), "evidence_review": N_("review of policy evidence"),
    "policy_escalation": N_("dealers silent on a policy"), "policy_pilot_decision": N_("decision on a policy pilot"),
    "statement_dispute": N_("disputed statement"), "settlement_approval": N_("approval of a settlement"),
    "tier_downgrade": N_("approval of tier downgrades"), "dealer_activation": N_("activation of silent dealers"),
    "diversion_investigation": N_("diversion investigation"), "credit_limit_change": N_("credit limit raise"),
    "credit_increase": N_("approval of a credit limit increase"),
    "inventory_red_items": N_("red stock items of your dealers"),
    # kinds of notification
    "reminder": N_("reminder"), "overdue": N_("overdue"), "escalation": N_("escalation"), "task": N_("task"),
    "question": N_("question"), "answer": N_("answer"), "statement": N_("statement"), "settlement": N_("settlement"),
    "policy": N_("policy"), "tier": N_("tier"), "tiering": N_("tiering"), "diversion": N_("diversion"),
    "process_failure": N_("process failure"), "credit": N_("credit"), "delivery": N_("delivery"), "rebate": N_("rebate"),
    "points": N_("points"), "payment": N_("payment"),
    # imports
    "shipments": N_("shipments"), "deliveries": N_("deliveries"), "returns": N_("returns"),
    "payments": N_("payments"),
    # imports of order history
    "running": N_("running"), "imported": N_("imported"), "checked": N_("checked (dry run)"),
    "refused": N_("refused"),
    # logistics: parcel states, receipts, problems
    "in_transit": N_("in transit"), "at_destination_city": N_("at the destination city"),
    "out_for_delivery": N_("out for delivery"), "signed": N_("signed"), "exception": N_("exception"),
    "auto_confirmed": N_("confirmed automatically"), "received": N_("received"),
    "damage": N_("damage"), "shortage": N_("shortage"), "parcel_problem": N_("damaged or short parcel"),
    "signed_outside_region": N_("signed outside the region"),
    # dealer requests: statuses, categories, what happened
    "in_progress": N_("in progress"), "waiting_dealer": N_("waiting for the dealer"),
    "service_request": N_("dealer request"), "service": N_("request"), "product": N_("product question"),
    "training": N_("training"), "after_sales": N_("after-sales"), "expiring_stock": N_("expiring stock"),
    "promotion": N_("promotion application"), "filed": N_("filed"), "answered": N_("answered"),
    "status": N_("status changed"), "retargeted": N_("targets changed with the tier"), "breached": N_("past target"),
    "rated": N_("rated"), "reopened": N_("reopened"),
    # dealer care: contact channels, kinds of notification
    "visit": N_("visit"), "phone": N_("phone"), "wecom": N_("WeCom"), "meeting": N_("meeting"), "care": N_("care"),
    "birthday": N_("birthday"), "anniversary": N_("anniversary"),
    "points_redemption": N_("points redemption"), "announcement": N_("announcement"), "message": N_("message"), "fulfilled": N_("fulfilled"),
    "requested": N_("requested"),
    # periods
    "quarter": N_("quarter"), "month": N_("month"), "year": N_("year"),
    # rule governance: version states, audit steps, replay figures
    "stale": N_("stale"),
    "current": N_("current"),
    "scheduled": N_("scheduled"),
    "past": N_("past"),
    "shadow": N_("shadow"),
    "shadow_ended": N_("shadow ended"),
    "emergency": N_("emergency deploy"),
    "shadow_started": N_("shadow started"), "deployed": N_("deployed"),
    "replayed": N_("replayed"),
    "changed": N_("changed"),
    "amount_changed": N_("amount of the changed decisions"),
    "not_replayable": N_("not replayable"),
    "up": N_("moved up"),
    "down": N_("moved down"),
    "entering": N_("entering eligibility"),
    "leaving": N_("leaving eligibility"),
    "difference": N_("difference"),
    "rebate_before": N_("rebate before"),
    "rebate_after": N_("rebate after"),
    "runs": N_("settlement runs"),
    "penalty_before": N_("penalty points before"),
    "penalty_after": N_("penalty points after"),
    "targeted_in": N_("targeted in"),
    "targeted_out": N_("targeted out"),
    "targets": N_("targets"),
    "transition": N_("change"),
    "tag": N_("tag"),
    "period": N_("period"),
    "severity": N_("severity"),
    "error": N_("error"),
    "region": N_("region"),
    "priority_up": N_("supply priority raised"),
    "priority_down": N_("supply priority lowered"),
    "limits_before": N_("credit limits before"),
    "limits_after": N_("credit limits after"),
    "gained": N_("advice gained"),
    "lost": N_("advice lost"),
    "tighter": N_("targets tightened"),
    "looser": N_("targets loosened"),
    "action": N_("action"),
    "rating": N_("rating"),
    "category": N_("category"),
}


# The fields of master data as the audit names them (dealerflow/masterdata/*.FIELDS), shown by the
# `field_label` filter in a record's changes.
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"), "legal_name": N_("Legal name"), "region": N_("Region"), "province": N_("Province"),
    "city": N_("City"), "channel": N_("Channel"), "tags": N_("Tags"), "tier": N_("Tier"), "level": N_("Level"),
    "parent_code": N_("Parent dealer (level 2)"), "credit_limit": N_("Credit limit"), "outstanding": N_("Outstanding"),
    "rating": N_("Rating"), "overdue_days": N_("Days overdue"), "account_manager": N_("Account manager"),
    "contact_name": N_("Contact person"), "contact_phone": N_("Contact phone"),
    "contact_birthday": N_("Contact's birthday"), "cooperation_since": N_("Cooperating since"),
    "payment_terms_days": N_("Payment terms (days)"), "status": N_("Status"), "category": N_("Category"),
    "unit": N_("Unit"), "pack_size": N_("Pack size"), "unit_price": N_("Unit price"),
    "guide_price": N_("Retail guide price"), "active": N_("Active"), "role": N_("Role"),
    "dealer_code": N_("Dealer"), "display_name": N_("Name"), "phone": N_("Phone"), "password": N_("Password"),
    "account_managers": N_("Account managers"), "credit_limit_request": N_("Credit limit raises"),
}
