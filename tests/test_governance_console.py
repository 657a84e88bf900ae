"""Rule governance in the console (English here; Chinese in test_console_i18n): a file checked and
proposed, the proposal page with its diff, tests and impact, the second person's approval, the
what-if replay page and its report, the shadow dashboard and the version timeline."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

from .support import wait_until
from .test_console_admin import as_user
from .test_governance_flow import STRICTER, order

CREDIT = (Path(__file__).parent.parent / "rules" / "credit_approval.yaml").read_text(encoding="utf-8")


@pytest.fixture
def gov(settings, worker):
    with TestClient(create_app(settings.with_(rules_four_eyes=True)), headers={"Accept-Language": "en"}) as c:
        yield c


def test_propose_review_and_approve_in_the_console(gov, make_dealer, make_user, product):
    author, second = make_user("admin"), make_user("admin")
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    order(gov, dealer, product)
    as_user(gov, author)
    check = gov.post("/console/rules/validate", data={"filename": "rules/credit_approval.yaml", "text": STRICTER})
    assert check.status_code == 200 and "Propose this file" in check.text and "Deploy now" not in check.text
    r = gov.post("/console/rules/propose", data={"filename": "rules/credit_approval.yaml", "text": STRICTER,
                                                  "comment": "B to review", "mode": "active"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    mine = gov.get(where)
    assert mine.status_code == 200 and "Proposed: a second person approves it." in mine.text
    assert "Impact on past decisions" in mine.text and "approve-within-headroom" in mine.text
    assert "Approve and deploy" not in mine.text  # not for the proposer
    assert 'dealer.rating in [&#34;A&#34;]' in mine.text or 'dealer.rating in ["A"]' in mine.text

    as_user(gov, second)
    page = gov.get(where)
    assert "Approve and deploy" in page.text and "B to review" in page.text
    proposal_id = where.rsplit("/", 1)[1]
    task_id = gov.get(f"/api/v1/rules/proposals/{proposal_id}", headers=second.headers).json()["task_id"]
    wait_until(lambda: gov.get(f"/api/v1/tasks/{task_id}", headers=second.headers).status_code == 200)
    done = gov.post(f"{where}/decide", data={"outcome": "approve", "comment": "ok"})
    assert done.status_code == 200 and "Approved: the new version is deployed." in done.text
    assert gov.get("/console/rules/proposals").text.count(proposal_id) >= 1
    timeline = gov.get("/console/rules/timeline/credit_approval")
    assert timeline.status_code == 200 and "current" in timeline.text and "proposal" in timeline.text


def test_replay_page_report_and_shadow_dashboard(gov, make_dealer, make_user, product):
    admin = make_user("admin")
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    order(gov, dealer, product, 2)
    as_user(gov, admin)
    assert gov.get("/console/rules/replay").status_code == 200
    r = gov.post("/console/rules/replay", data={"filename": "rules/credit_approval.yaml", "text": STRICTER,
                                                 "since": "", "until": ""})
    assert r.status_code == 200 and "Replay of credit_approval" in r.text and "Sample rows, both explanations" in r.text
    assert re.search(r"approve</td><td[^>]*>review", r.text) or "review" in r.text
    bad = gov.post("/console/rules/replay", data={"filename": "rules/credit_approval.yaml", "text": STRICTER,
                                                   "since": "2001-01-01", "until": "2001-01-02"})
    assert bad.status_code == 422 and "no stored credit_approval decisions" in bad.text
    assert gov.post("/api/v1/rules/shadow", content=STRICTER.encode(), params={"filename": "rules/credit_approval.yaml"},
                    headers={**admin.headers, "Content-Type": "application/yaml"}).status_code == 201
    order(gov, dealer, product)
    board = gov.get("/console/rules/shadow")
    assert board.status_code == 200 and "Latest disagreements" in board.text and "running" in board.text
    hq = make_user("hq")
    as_user(gov, hq)
    assert gov.get("/console/rules/shadow").status_code == 403
