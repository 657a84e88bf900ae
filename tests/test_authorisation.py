"""The authorisation matrix: every route of the app × every role, on objects of the caller's own
dealer and of another dealer. Each route has one entry in ROUTES (a new route without one fails
the test); each entry says which roles the route admits and whether it shows dealer data, which
must then be scoped (api/scope.py): out of scope is a 404 for one thing and filtered out of a list.

Roles: anonymous; dealer (of dealer A); account_manager of A; region_manager of A's region; hq,
admin, finance, credit_manager (every dealer). Dealer B has another account manager and region.
A leak is a 2xx answer on something the role must not reach, or B's code in a list the role reads."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from fastapi.routing import _IncludedRouter
from starlette.routing import Mount

from sqlalchemy import select

from dealerflow.service import requests as service_requests
from dealerflow.models import (Announcement, AnnouncementRecipient, ConversationMessage, MessageAttachment,
                               CodeBatch, Dealer, ServiceMessage, DiversionCase, Evidence, OrderReturn, Payment, Policy, PolicyAssignment,
                               ProductCode, SettlementRun, Statement)
from dealerflow.shared.evidence import EvidenceStore
from api.scope import ALL_DEALERS

from .policy_support import PNG, deploy, policy_yaml, unique
from .support import send_csrf

ROLES = ("anonymous", "dealer", "account_manager", "region_manager", "hq", "admin", "finance", "credit_manager")
STAFF = ("account_manager", "region_manager") + ALL_DEALERS
EVERYONE = ("dealer",) + STAFF
DEALER = ("dealer",)
HQ = ("hq", "admin")


@dataclass(frozen=True)
class Entry:
    """roles: who passes the route's role gate. scoped: it shows dealer data — `detail` (the path
    names a dealer's thing: own → allowed, other's → 404 unless the role sees every dealer), `list`
    (other dealer's code never in the answer), `query` (?dealer=CODE names the dealer). public: no
    login needed. send: False for a route whose allowed call would start real work (only its refusals
    are tried)."""
    roles: tuple = ()
    scoped: str | None = None
    public: bool = False
    send: bool = True
    denied: int = 403  # what a role outside `roles` gets
    form: dict | None = None  # a valid form or JSON body, where an empty one would be refused first
    json: dict | None = None


def gate(*roles, **kw) -> Entry:
    return Entry(roles=roles, **kw)


# method path → entry. Gates: the role check of the route (a dummy id or an empty body then fails
# validation or lookup for an admitted role, which is fine: it passed the gate).
ROUTES = {
    "GET /openapi.json": Entry(public=True), "GET /docs": Entry(public=True),
    "GET /docs/oauth2-redirect": Entry(public=True), "GET /redoc": Entry(public=True), "GET /": Entry(public=True), "GET /favicon.ico": Entry(public=True),
    "POST /api/v1/auth/token": Entry(public=True),
    "POST /api/v1/auth/logout": gate(*EVERYONE, send=False),  # would revoke the token the matrix uses
    "GET /api/v1/me": gate(*EVERYONE),
    "POST /api/v1/orders": gate(*DEALER),
    "GET /api/v1/orders": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/orders/{order_id}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/orders/{order_id}/cancel": gate(*DEALER, scoped="write"),
    "POST /api/v1/orders/{order_id}/ship": gate("hq", "finance", "admin"),
    "POST /api/v1/orders/{order_id}/deliver": gate("hq", "finance", "admin"),
    "POST /api/v1/returns": gate("hq", "finance", "admin"),
    "POST /api/v1/payments": gate("hq", "finance", "admin"),
    "POST /api/v1/imports/{kind}": gate("hq", "finance", "admin"),
    "POST /api/v1/imports/order-history": gate("finance", "admin"),
    "GET /api/v1/imports/order-history": gate("finance", "admin"),
    "POST /api/v1/imports/order-history/file": gate("finance", "admin"),
    "GET /api/v1/payments": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/returns": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/tasks": gate(*EVERYONE),
    "GET /api/v1/tasks/{task_id}": gate(*EVERYONE),
    "POST /api/v1/tasks/{task_id}/complete": gate(*EVERYONE),
    "GET /api/v1/policies": gate("dealer", *HQ),
    "GET /api/v1/policies/{policy_id}": gate(*EVERYONE),
    "POST /api/v1/policies/{policy_id}/acknowledge": gate(*DEALER),
    "POST /api/v1/policies/{policy_id}/questions": gate(*DEALER),
    "GET /api/v1/policies/{policy_id}/questions": gate(*EVERYONE),
    "POST /api/v1/policies/{policy_id}/questions/{question_id}/answer": gate("hq"),
    "GET /api/v1/policies/{policy_id}/preview": gate(*HQ),
    "POST /api/v1/policies/{policy_id}/publish": gate("hq"),
    "POST /api/v1/policies/{policy_id}/withdraw": gate("hq"),
    "GET /api/v1/policies/{policy_id}/status": gate(*HQ),
    "GET /api/v1/policy-tasks": gate(*DEALER, scoped="list"),
    "GET /api/v1/policy-tasks/{assignment_id}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/policy-tasks/{assignment_id}/evidence": gate(*DEALER, scoped="write"),
    "GET /api/v1/evidence/{evidence_id}": gate("dealer", "hq", "admin", scoped="detail", denied=404),
    "GET /api/v1/points": gate(*DEALER),
    "GET /api/v1/rebates/progress": gate(*EVERYONE, scoped="query"),
    "POST /api/v1/settlements": gate("finance", "admin"),
    "GET /api/v1/settlements": gate("finance", "hq", "admin"),
    "GET /api/v1/reports/dashboard": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/reports/sales-by-region": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/reports/top-products": gate(*EVERYONE, scoped="list"),
    **{f"GET /api/v1/reports/{name}": gate(*STAFF, scoped="list")
       for name in ("tasks", "settlements", "diversion", "tiers", "silent-dealers", "policy-effect")},
    "GET /api/v1/failures": gate(*HQ), "POST /api/v1/failures/{failure_id}/close": gate(*HQ),
    "GET /api/v1/settlements/{run_id}": gate("finance", "hq", "admin"),
    "GET /api/v1/statements": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/statements/{statement_id}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/statements/{statement_id}/confirm": gate(*DEALER, scoped="write"),
    "POST /api/v1/statements/{statement_id}/dispute": gate(*DEALER, scoped="write", json={"reason": "no"}),
    "POST /api/v1/dealers": gate("admin"),
    "GET /api/v1/dealers": gate(*STAFF, scoped="list"),
    "GET /api/v1/dealers/{code}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/products": gate("admin"),
    "PATCH /api/v1/dealers/{code}": gate("admin"), "PATCH /api/v1/products/{sku}": gate("admin"),
    "GET /api/v1/products": gate(*EVERYONE),
    "POST /api/v1/users": gate("admin"),
    # Master data: admins change it, HQ reads lists, records and their audit; regions are listed to staff.
    "POST /api/v1/dealers/{code}/deactivate": gate("admin"), "GET /api/v1/dealers/{code}/audit": gate(*HQ),
    "GET /api/v1/products/{sku}": gate(*EVERYONE), "POST /api/v1/products/{sku}/deactivate": gate("admin"),
    "GET /api/v1/products/{sku}/audit": gate(*HQ),
    "GET /api/v1/users": gate(*HQ), "GET /api/v1/users/{username}": gate(*HQ),
    "PATCH /api/v1/users/{username}": gate("admin"), "POST /api/v1/users/{username}/password": gate("admin"),
    "POST /api/v1/users/{username}/deactivate": gate("admin"), "GET /api/v1/users/{username}/audit": gate(*HQ),
    "GET /api/v1/regions": gate(*STAFF), "POST /api/v1/regions": gate("admin"),
    "PATCH /api/v1/regions/{code}": gate("admin"), "GET /api/v1/regions/{code}/audit": gate(*HQ),
    "POST /api/v1/master-data/{kind}/import": gate("admin"), "GET /api/v1/master-data/{kind}/export": gate(*HQ),
    "GET /api/v1/rules": gate(*HQ),
    "POST /api/v1/rules/validate": gate("admin"),
    "POST /api/v1/rules/deploy": gate(*HQ),
    "POST /api/v1/rules/replay": gate(*HQ), "GET /api/v1/rules/replays/{report_id}": gate(*HQ),
    "POST /api/v1/rules/proposals": gate(*HQ), "GET /api/v1/rules/proposals": gate(*HQ),
    "GET /api/v1/rules/proposals/{proposal_id}": gate(*HQ),
    "POST /api/v1/rules/proposals/{proposal_id}/decide": gate(*HQ, json={"outcome": "approve"}),
    "POST /api/v1/rules/proposals/{proposal_id}/comments": gate(*HQ, json={"body": "a comment"}),
    "POST /api/v1/rules/proposals/{proposal_id}/withdraw": gate(*HQ, json={"reason": "not needed"}),
    "POST /api/v1/rules/emergency-deploy": gate(*HQ), "GET /api/v1/rules/versions/{ruleset}": gate(*HQ),
    "GET /api/v1/rules/shadow": gate(*HQ), "POST /api/v1/rules/shadow": gate("admin"),
    "POST /api/v1/rules/shadow/{ruleset}/{version}/end": gate("admin"), "GET /api/v1/rules/audit": gate(*HQ),
    "GET /api/v1/notifications": gate(*EVERYONE),
    "GET /api/v1/health": Entry(public=True),
    "GET /api/v1/dealers/{code}/tier": gate(*EVERYONE, scoped="detail"),
    "GET /api/v1/service/categories": gate(*EVERYONE),
    "GET /api/v1/service/reports/sla": gate(*STAFF, scoped="list"),
    "GET /api/v1/service/reports/sla/export": gate(*STAFF, scoped="list"),
    "POST /api/v1/care/contacts": gate("account_manager", "region_manager", "hq", "admin", send=False,
                                       json={"dealer": "NO-SUCH-CODE", "channel": "phone", "note": "called"}),
    "GET /api/v1/care/contacts/due": gate(*STAFF, scoped="list"),
    "GET /api/v1/care/occasions": gate(*STAFF, scoped="list"),
    "POST /api/v1/care/runs": gate("hq", "admin", send=False),
    "GET /api/v1/points/catalogue": gate(*EVERYONE),
    "POST /api/v1/announcements": gate(*HQ, send=False),
    "GET /api/v1/announcements": gate("dealer", *HQ),
    "GET /api/v1/announcements/{announcement_id}": gate("dealer", *HQ),
    "POST /api/v1/announcements/{announcement_id}/acknowledge": gate(*DEALER),
    "GET /api/v1/conversations": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/conversations/{code}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/conversations/{code}/messages": gate(*EVERYONE, scoped="detail", json={"text": "hello"}),
    "POST /api/v1/announcements/with-files": gate(*HQ, send=False),
    "GET /api/v1/announcements/{announcement_id}/files/{file_id}": gate("dealer", *HQ, scoped="detail"),
    "POST /api/v1/conversations/{code}/messages/with-files": gate(*EVERYONE, scoped="detail", form={"text": "hello"}),
    "GET /api/v1/conversations/{code}/files/{attachment_id}": gate(*EVERYONE, scoped="detail"),
    "GET /api/v1/notifications/preferences": gate(*EVERYONE),
    "PUT /api/v1/notifications/preferences": gate(*EVERYONE, json={}),
    "GET /api/v1/notifications/preferences/{username}": gate("admin"),
    "PUT /api/v1/notifications/preferences/{username}": gate("admin", json={}),
    "GET /api/v1/notifications/dead-letters": gate("admin"),
    "POST /api/v1/notifications/dead-letters/resend": gate("admin", json={"ids": [999999999]}),
    "POST /api/v1/points/redemptions": gate(*DEALER, json={"item": "no_such_item"}),
    "GET /api/v1/points/redemptions": gate(*DEALER),
    "POST /api/v1/service/requests": gate(*DEALER),
    "GET /api/v1/service/requests": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/service/requests/{request_id}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/service/requests/{request_id}/messages": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/service/requests/{request_id}/status": gate(*STAFF, scoped="detail", json={"status": "in_progress"}),
    "POST /api/v1/service/requests/{request_id}/close": gate(*STAFF, send=False, json={"outcome": "resolved"}),
    "POST /api/v1/service/requests/{request_id}/rating": gate(*DEALER, scoped="write", json={"score": 5}),
    "POST /api/v1/service/requests/{request_id}/reopen": gate(*DEALER, scoped="write", json={"text": "again"}),
    "GET /api/v1/service/requests/{request_id}/attachments/{message_id}/{index}": gate(*EVERYONE, scoped="detail"),
    "GET /api/v1/tiering/distribution": gate(*HQ),
    "POST /api/v1/tiering/runs": gate(*HQ, send=False),
    "GET /api/v1/tiering/runs": gate(*HQ),
    "GET /api/v1/tiering/runs/{month}": gate(*HQ),
    "GET /api/v1/tiering/silent": gate("hq", "admin", "account_manager"),
    "GET /api/v1/account": gate(*DEALER),
    "GET /api/v1/dealers/{code}/account": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/credit/runs": gate("credit_manager", "admin", send=False),
    "GET /api/v1/credit/runs": gate("credit_manager", "admin", "hq", "finance"),
    "GET /api/v1/credit/runs/{month}": gate("credit_manager", "admin", "hq", "finance"),
    "POST /api/v1/codes/batches": gate(*HQ),
    "POST /api/v1/codes/bind": gate("admin", "hq", "finance"),
    "GET /api/v1/codes/{code:path}/trace": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/scans": gate(*HQ),
    "GET /api/v1/cases": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/cases/{case_id}": gate(*EVERYONE, scoped="detail"),
    "GET /console/cases": gate(*EVERYONE, scoped="list"),
    "GET /console/imports": gate("hq", "finance", "admin"), "POST /console/imports": gate("hq", "finance", "admin"),
    "GET /console/imports/history": gate("finance", "admin"), "POST /console/imports/history": gate("finance", "admin"),
    "GET /console/cases/{case_id}": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/diversion/sweep": gate(*HQ, send=False),
    # HQ's stock: warehouses and stock levels, read and set by HQ and admins
    "GET /api/v1/warehouses": gate(*HQ), "POST /api/v1/warehouses": gate(*HQ),
    "GET /api/v1/stock": gate(*HQ), "POST /api/v1/stock": gate(*HQ),
    "POST /api/v1/stock/adjust": gate(*HQ), "POST /api/v1/stock/import": gate(*HQ),
    "GET /console/stock": gate(*HQ), "POST /console/stock/import": gate(*HQ), "POST /console/stock/adjust": gate(*HQ),
    "POST /console/warehouses": gate(*HQ),
    # Logistics: a provider's push carries its signature, not a login (refusals: tests/test_logistics.py).
    "POST /api/v1/logistics/push/{provider}": Entry(public=True),
    "POST /api/v1/orders/{order_id}/parcels": gate("hq", "finance", "admin"),
    "GET /api/v1/orders/{order_id}/parcels": gate(*EVERYONE, scoped="detail"),
    "POST /api/v1/parcels/{parcel_id}/receipt": gate(*DEALER),
    "POST /api/v1/parcels/{parcel_id}/report": gate(*DEALER),
    "GET /api/v1/logistics/unmatched": gate(*HQ),
    "GET /api/v1/parcel-reports/{report_id}/photos/{index}": gate("dealer", "hq", "admin"),
    "POST /console/orders/{order_id}/parcels": gate("hq", "finance", "admin"),
    "POST /console/parcels/{parcel_id}/receipt": gate(*DEALER),
    "POST /console/parcels/{parcel_id}/report": gate(*DEALER),
    "GET /console/logistics/unmatched": gate(*HQ),
    "POST /api/v1/inventory/stock-reports": gate("dealer", "hq", "admin"),
    "POST /api/v1/inventory/stock-reports/upload": gate("dealer", "hq", "admin"),
    "POST /api/v1/inventory/sell-through": gate("dealer", "hq", "admin"),
    "POST /api/v1/inventory/sell-through/upload": gate("dealer", "hq", "admin"),
    "GET /api/v1/inventory/health": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/inventory/advice": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/inventory/drafts": gate(*EVERYONE, scoped="list"),
    "GET /api/v1/inventory/forecasts": gate(*EVERYONE, scoped="list"),
    "PUT /api/v1/inventory/safety-stock": gate(*DEALER),
    "PUT /api/v1/inventory/auto-replenish": gate(*DEALER),
    "POST /api/v1/inventory/drafts": gate(*DEALER),
    "POST /api/v1/inventory/drafts/{draft_id}/place": gate(*DEALER),
    "POST /api/v1/inventory/drafts/{draft_id}/dismiss": gate(*DEALER),
    "POST /api/v1/inventory/runs": gate(*HQ, send=False),
    "POST /api/v1/inventory/clearance-policy": gate(*HQ),
    "GET /console/inventory": gate(*EVERYONE),
    "POST /console/inventory/stock": gate(*DEALER), "POST /console/inventory/auto-replenish": gate(*DEALER),
    "POST /console/inventory/drafts": gate(*DEALER), "POST /console/inventory/drafts/{draft_id}/place": gate(*DEALER),
    "GET /console/inventory/red": gate("account_manager", "region_manager", "hq", "admin", scoped="list"),
    "GET /console/inventory/hq": gate("hq", "admin", "region_manager"),
    # The console: a cookie login; anonymous callers are sent to the login page.
    "GET /console/login": Entry(public=True), "POST /console/login": Entry(public=True),
    "GET /console/language": Entry(public=True),  # the language switch: a cookie and a redirect
    "POST /console/logout": Entry(public=True, send=False),  # would revoke the token the matrix uses
    "GET /console": gate(*EVERYONE),
    "GET /console/tasks": gate(*EVERYONE),
    "GET /console/tasks/{task_id}": gate(*EVERYONE),
    "GET /console/notifications": gate(*EVERYONE), "POST /console/notifications/read": gate(*EVERYONE),
    "POST /console/notifications/{notification_id}/read": gate(*EVERYONE),
    "POST /console/tasks/{task_id}": gate(*EVERYONE),
    "GET /console/orders": gate(*EVERYONE, scoped="list"),
    "POST /console/orders": gate(*DEALER, send=False, form={"sku": "NO-SUCH-SKU", "quantity": "1"}),
    "GET /console/orders/{order_id}": gate(*EVERYONE, scoped="detail"),
    "GET /console/policies": gate("dealer", *HQ),
    "GET /console/policies/{policy_id}": gate(*EVERYONE),
    "GET /console/policies/{policy_id}/figures": gate(*HQ, denied=404),
    "POST /console/policies/{policy_id}/acknowledge": gate(*DEALER),
    "POST /console/policies/{policy_id}/questions": gate(*DEALER),
    "POST /console/policies/{policy_id}/questions/{question_id}/answer": gate("hq"),
    "POST /console/policies/{policy_id}/publish": gate("hq"),
    "POST /console/policies/{policy_id}/withdraw": gate("hq"),
    "GET /console/policy-tasks": gate(*DEALER, scoped="list"),
    "GET /console/policy-tasks/{assignment_id}": gate(*EVERYONE, scoped="detail"),
    "POST /console/policy-tasks/{assignment_id}": gate(*DEALER, scoped="write"),
    "GET /console/rebates": gate("dealer", "finance", "hq", "admin", scoped="query"),
    "GET /console/statements": gate("dealer", "finance", "hq", "admin", scoped="list"),
    "GET /console/statements/{statement_id}": gate(*EVERYONE, scoped="detail"),
    "POST /console/statements/{statement_id}/confirm": gate(*DEALER, scoped="write"),
    "POST /console/statements/{statement_id}/dispute": gate(*DEALER, scoped="write", form={"reason": "no"}),
    "GET /console/settlements": gate("finance", "hq", "admin"),
    "GET /console/failures": gate(*HQ), "POST /console/failures/{failure_id}/close": gate(*HQ),
    "POST /console/settlements": gate("finance", "admin"),
    "GET /console/settlements/{run_id}": gate("finance", "hq", "admin"),
    "GET /console/tier": gate(*EVERYONE, scoped="query"),
    "GET /console/tiering": gate("hq", "admin", "account_manager"),
    "GET /console/account": gate(*EVERYONE, scoped="query"),
    "GET /console/credit": gate("credit_manager", "admin", "hq", "finance"),
    "POST /console/credit/runs": gate("credit_manager", "admin", send=False),
    "GET /console/dashboard": gate(*EVERYONE, scoped="list"),
    "GET /console/reports/sales-by-region": gate(*EVERYONE, scoped="list"),
    "GET /console/reports/top-products": gate(*EVERYONE, scoped="list"),
    **{f"GET /console/reports/{name}": gate(*STAFF, scoped="list")
       for name in ("tasks", "settlements", "diversion", "tiers", "silent-dealers", "policy-effect")},
    "GET /console/dashboard/map": gate(*STAFF, scoped="list"),
    "GET /console/dashboard/map/geojson": gate(*STAFF),  # the admin's map: no dealer data
    "POST /console/dashboard/map": gate("admin"),
    # The administrator's pages: HQ reads them (and deploys policy rule files, api/admin/rules.py).
    "GET /console/rules": gate(*HQ), "GET /console/rules/{ruleset}": gate(*HQ),
    "GET /console/rules/{ruleset}/diff": gate(*HQ),
    "POST /console/rules/validate": gate(*HQ), "POST /console/rules/deploy": gate(*HQ),
    "GET /console/rules/proposals": gate(*HQ), "GET /console/rules/proposals/{proposal_id}": gate(*HQ),
    "POST /console/rules/propose": gate(*HQ), "POST /console/rules/proposals/{proposal_id}/decide": gate(*HQ),
    "POST /console/rules/proposals/{proposal_id}/comment": gate(*HQ),
    "POST /console/rules/proposals/{proposal_id}/withdraw": gate(*HQ),
    "GET /console/rules/replay": gate(*HQ), "POST /console/rules/replay": gate(*HQ),
    "GET /console/rules/replays/{report_id}": gate(*HQ), "GET /console/rules/shadow": gate("admin"),
    "GET /console/rules/timeline/{ruleset}": gate(*HQ),
    "GET /console/dealers": gate(*HQ, scoped="list"), "POST /console/dealers": gate("admin"),
    "GET /console/dealers/{code}": gate(*HQ, scoped="detail"), "POST /console/dealers/{code}": gate("admin"),
    "GET /console/products": gate(*HQ), "POST /console/products": gate("admin"),
    "GET /console/products/{sku}": gate(*HQ), "POST /console/products/{sku}": gate("admin"),
    "GET /console/users": gate(*HQ), "POST /console/users": gate("admin"),
    "GET /console/users/{username}": gate(*HQ), "POST /console/users/{username}": gate("admin"),
    "POST /console/users/{username}/password": gate("admin"),
    "POST /console/regions": gate("admin"), "POST /console/regions/{code}": gate("admin"),
    "GET /console/master-data": gate(*HQ), "POST /console/master-data/import": gate("admin"),
    "GET /console/master-data/{kind}/export": gate(*HQ),
    "GET /console/regions": gate(*HQ), "GET /console/system": gate(*HQ),
    "GET /console/service": gate(*EVERYONE, scoped="list"),
    "GET /console/service/reports": gate(*STAFF, scoped="list"),
    "GET /console/care": gate(*STAFF, scoped="list"),
    "GET /console/points": gate(*DEALER), "POST /console/points": gate(*DEALER, form={"item": "no_such_item"}),
    "GET /console/announcements": gate("dealer", *HQ), "POST /console/announcements": gate(*HQ, send=False),
    "GET /console/announcements/{announcement_id}": gate("dealer", *HQ),
    "POST /console/announcements/{announcement_id}/acknowledge": gate(*DEALER),
    "GET /console/conversations": gate(*EVERYONE, scoped="list"),
    "GET /console/conversations/{code}": gate(*EVERYONE, scoped="detail"),
    "POST /console/conversations/{code}": gate(*EVERYONE, scoped="detail", form={"text": "hello"}),
    "GET /console/notifications/preferences": gate(*EVERYONE), "POST /console/notifications/preferences": gate(*EVERYONE),
    "GET /console/notifications/preferences/{username}": gate("admin"),
    "POST /console/notifications/preferences/{username}": gate("admin"),
    "GET /console/notifications/dead-letters": gate("admin"),
    "POST /console/notifications/dead-letters/resend": gate("admin"),
    "POST /console/care/contacts": gate("account_manager", "region_manager", "hq", "admin", send=False,
                                        form={"dealer": "NO-SUCH-CODE", "channel": "phone", "note": "x"}),
    "GET /console/service/new": gate(*DEALER), "POST /console/service/new": gate(*DEALER),
    "GET /console/service/{request_id}": gate(*EVERYONE, scoped="detail"),
    "POST /console/service/{request_id}/messages": gate(*EVERYONE, scoped="detail"),
    "POST /console/service/{request_id}/status": gate(*STAFF, scoped="detail", form={"status": "in_progress"}),
    "POST /console/service/{request_id}/close": gate(*STAFF, send=False, form={"outcome": "resolved"}),
    "POST /console/service/{request_id}/rating": gate(*DEALER, scoped="write", form={"score": "5"}),
    "POST /console/service/{request_id}/reopen": gate(*DEALER, scoped="write", form={"text": "again"}),
}

DUMMY = {"order_id": str(uuid.uuid4()), "task_id": str(uuid.uuid4()), "policy_id": "no_such_policy",
         "question_id": "1", "assignment_id": str(uuid.uuid4()), "evidence_id": "999999999", "run_id": "no-such-run",
         "statement_id": str(uuid.uuid4()), "code": "NO-SUCH-CODE", "code:path": "NO-SUCH-CODE", "kind": "payments",
         "month": "2020-01", "case_id": "999999999", "failure_id": "999999999", "notification_id": "999999999",
         "ruleset": "no_such_ruleset", "sku": "NO-SUCH-SKU", "username": "no-such-user", "provider": "no-such-provider",
         "parcel_id": str(uuid.uuid4()), "report_id": str(uuid.uuid4()), "index": "0",
         "proposal_id": str(uuid.uuid4()), "version": "999999", "request_id": str(uuid.uuid4()),
         "message_id": "999999999", "announcement_id": "999999999", "file_id": "999999999",
         "attachment_id": "999999999"}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers expanded."""
    out = []
    for route in app.routes:
        contexts = route.effective_route_contexts() if isinstance(route, _IncludedRouter) else [route]
        for r in contexts:
            if isinstance(r, Mount):
                continue  # static files
            out += [(m, r.path) for m in sorted(r.methods or ()) if m != "HEAD"]
    return out


def fill(path: str, values: dict) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def world(client, sessions, settings, make_dealer, make_user, product, stack_settings) -> dict:
    """Dealers A and B with one of everything each; the users of every role."""
    region_a, region_b = unique("ra"), unique("rb")
    am_a, am_b = make_user("account_manager"), make_user("account_manager")
    a = make_dealer(region=region_a, account_manager=am_a.user.username)
    b = make_dealer(region=region_b, account_manager=am_b.user.username)
    actors = {"dealer": a, "account_manager": am_a, "region_manager": make_user("region_manager", region=region_a),
              **{r: make_user(r) for r in ALL_DEALERS}}
    policy_id = unique("p")
    assert deploy(client, actors["hq"], policy_yaml(policy_id, "dealer.level == 9", tasks=(
        "{key: window-photo, title: Photograph the window, due: 1h, evidence: [photo], reviewer: hq, points: 5}"
    ))).status_code == 201
    now = datetime.now(timezone.utc)
    objects = {}
    store = EvidenceStore(settings.evidence_path)
    path, stored = store.begin("photo", "w.png"), None
    path.write(PNG)
    staged, stored = path.finish()
    store.keep(staged, stored)
    run_id = unique("run")
    with sessions.begin() as s:
        s.add(Policy(id=policy_id, version=1, title="t", category="promotion", status="rolling_out",
                     workflow_id=f"wf-{policy_id}", published_by="hq"))
        s.add(SettlementRun(id=run_id, program="quarterly_volume", period="2026-Q1", upto="2026-03", final=True,
                            ruleset_version=1, measure_from=date(2026, 1, 1), span_from=date(2026, 1, 1),
                            span_to=date(2026, 3, 31), workflow_id=f"wf-{run_id}", stage="awaiting_confirmation",
                            started_by="finance"))
        batch = CodeBatch(product_id=product.id, batch_no=unique("b")[:32], codes=2, registered_by="hq")
        s.add(batch)
        s.flush()
        for name, actor in (("own", a), ("other", b)):
            dealer = actor.dealer
            r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                            headers=actor.headers)
            assert r.status_code == 201, r.text
            order_id = r.json()["id"]
            s.add(Payment(reference=unique("pay"), dealer_id=dealer.id, amount=Decimal("1.00"), paid_at=now,
                          recorded_by="finance"))
            s.add(OrderReturn(reference=unique("ret"), order_id=uuid.UUID(order_id), dealer_id=dealer.id,
                              product_id=product.id, sku=product.sku, quantity=1, amount=Decimal("1.00"),
                              returned_at=now, recorded_by="finance"))
            statement = Statement(id=uuid.uuid4(), run_id=run_id, dealer_id=dealer.id, explanation={"reason": "x"},
                                  confirm_by=now + timedelta(days=7),
                                  **{k: Decimal("0") for k in ("opening", "deliveries", "returns", "payments",
                                                              "rebates_posted", "rebate", "points_amount", "closing")})
            case = DiversionCase(dealer_id=dealer.id, region=dealer.region, first_alert_at=now)
            code = unique("C")
            assignment = PolicyAssignment(id=uuid.uuid4(), policy_id=policy_id, task_key="window-photo",
                                          dealer_id=dealer.id, due_at=now + timedelta(days=1))
            s.add_all([statement, case, assignment])
            s.flush()
            s.add(ProductCode(code=code, batch_id=batch.id, serial=1 if name == "own" else 2, product_id=product.id,
                              dealer_id=dealer.id, region=dealer.region))
            request, _ = service_requests.file_request(
                s, dealer=s.get(Dealer, dealer.id), actor="dealer", category="product", subject="s", text="t",
                attachments=[{"kind": "photo", "filename": "w.png", "content_type": "image/png", "size": len(PNG),
                              "sha256": stored.sha256}], now=now)
            s.flush()
            message_id = s.scalar(select(ServiceMessage.id).where(ServiceMessage.request_id == request.id))
            evidence = Evidence(assignment_id=assignment.id, attempt=1, kind="photo", filename="w.png",
                                content_type="image/png", size=len(PNG), sha256=stored.sha256, uploaded_by="x")
            s.add(evidence)
            announcement = Announcement(title="a", body="b", target="true", recipients=1, published_by="hq")
            said = ConversationMessage(dealer_id=dealer.id, author="x", from_dealer=True, body="b")
            s.add_all([announcement, said])
            s.flush()
            s.add(AnnouncementRecipient(announcement_id=announcement.id, dealer_id=dealer.id))
            files = [MessageAttachment(announcement_id=announcement.id, kind="photo", filename="w.png",
                                       content_type="image/png", size=len(PNG), sha256=stored.sha256),
                     MessageAttachment(message_id=said.id, kind="photo", filename="w.png", content_type="image/png",
                                       size=len(PNG), sha256=stored.sha256)]
            s.add_all(files)
            s.flush()
            objects[name] = {"announcement_id": str(announcement.id), "file_id": str(files[0].id),
                             "attachment_id": str(files[1].id), "order_id": order_id, "statement_id": str(statement.id), "case_id": str(case.id),
                             "code": dealer.code, "code:path": code, "assignment_id": str(assignment.id),
                             "evidence_id": str(evidence.id), "__dealer": dealer.code,
                             "request_id": str(request.id), "message_id": str(message_id)}
    headers = {role: {**actor.headers, "Cookie": "dealerflow_token=" + actor.headers["Authorization"][7:]}
               for role, actor in actors.items()}
    headers["anonymous"] = {}
    return {"headers": headers, "own": objects["own"], "other": objects["other"], "known": {"policy_id": policy_id}}


def test_every_route_is_in_the_matrix_and_no_role_reaches_another_dealers_data(
        client, sessions, settings, make_dealer, make_user, product, stack_settings):
    routes = app_routes(client.app)
    missing = [f"{m} {p}" for m, p in routes if f"{m} {p}" not in ROUTES]
    assert not missing, f"routes without an entry in the authorisation matrix: {missing}"
    stale = set(ROUTES) - {f"{m} {p}" for m, p in routes}
    assert not stale, f"matrix entries of routes that no longer exist: {stale}"

    w = world(client, sessions, settings, make_dealer, make_user, product, stack_settings)
    send_csrf(client)  # console forms carry their CSRF token: the matrix tests roles, not CSRF
    other_code = w["other"]["__dealer"]
    attempts, leaks, wrong = 0, [], []

    def call(method, url, role, params=None):
        nonlocal attempts
        attempts += 1
        body = {"data": entry.form} if entry.form else {"json": entry.json} if entry.json else {}
        headers = dict(w["headers"][role])
        if "Cookie" in headers:  # an explicit Cookie replaces the jar's: carry the current CSRF cookie too
            headers["Cookie"] += f"; dealerflow_csrf={client.cookies.get('dealerflow_csrf')}"
        return client.request(method, url, headers=headers, params=params, follow_redirects=False, **body)

    for method, path in routes:
        entry = ROUTES[f"{method} {path}"]
        console = path.startswith("/console")
        for role in ROLES:
            def expect(ok: bool, got, what: str, *, found: bool = True):
                status = got.status_code
                if ok and (status in (401, 403) or status >= 500 or (found and status == 404)):
                    wrong.append(f"{role} {method} {what}: {status} (expected to be admitted)")
                if not ok and 200 <= status < 300:
                    leaks.append(f"{role} {method} {what}: {status}")
                elif not ok and status not in (401, 403, 404, 303):
                    wrong.append(f"{role} {method} {what}: {status} (expected a refusal)")

            if entry.public:
                if not entry.send:  # logging out would revoke the token the rest of the matrix uses
                    continue
                r = call(method, fill(path, DUMMY), role)
                if r.status_code in (401, 403) or r.status_code >= 500:
                    wrong.append(f"{role} {method} {path}: {r.status_code} (public)")
                continue
            if role == "anonymous":
                r = call(method, fill(path, DUMMY), role)
                if r.status_code != (303 if console else 401):
                    (leaks if r.status_code < 300 else wrong).append(f"anonymous {method} {path}: {r.status_code}")
                continue
            admitted = role in entry.roles
            sees_other = role in ALL_DEALERS
            if entry.scoped == "detail":
                for side in ("own", "other"):
                    r = call(method, fill(path, {**DUMMY, **w[side]}), role)
                    ok = admitted and (side == "own" or sees_other)
                    expect(ok, r, f"{path} ({side})")
                    if not ok and r.status_code not in (404, entry.denied if not admitted else 404, 303):
                        wrong.append(f"{role} {method} {path} ({side}): {r.status_code} (expected 404)")
            elif entry.scoped == "write":  # another dealer's thing: never reachable, own is not touched
                r = call(method, fill(path, {**DUMMY, **w["other"]}), role)
                expect(False, r, f"{path} (other)")
            elif entry.scoped == "query":
                for side in ("own", "other"):
                    r = call(method, path, role, params={"dealer": w[side]["__dealer"]})
                    if role == "dealer":  # a dealer's own figures whatever it names
                        expect(admitted, r, f"{path}?dealer= ({side})")
                        if other_code in r.text:
                            leaks.append(f"{role} {method} {path}?dealer={other_code}: the other dealer's data")
                    else:
                        expect(admitted and (side == "own" or sees_other), r, f"{path}?dealer= ({side})")
            elif entry.scoped == "list":
                r = call(method, path, role)
                expect(admitted, r, path)
                if admitted and not sees_other and other_code in r.text:
                    leaks.append(f"{role} {method} {path}: lists the other dealer's {other_code}")
            elif entry.send or not admitted:
                known = w["known"] if method == "GET" else {}  # a real policy is read, never published
                r = call(method, fill(path, {**DUMMY, **known}), role)
                expect(admitted, r, path, found=False)
                if not admitted and r.status_code != entry.denied:
                    wrong.append(f"{role} {method} {path}: {r.status_code} (expected {entry.denied})")

    summary = (f"authorisation matrix: {len(ROLES)} roles × {len(routes)} endpoints, {attempts} attempts, "
               f"{len(leaks)} leaks")
    print(summary)
    assert not leaks and not wrong, summary + "\n" + "\n".join(leaks + wrong)
