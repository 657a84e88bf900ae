"""Satisfaction and response figures of dealer requests reach the tier: a re-tiering run counts the
requests closed in its 12 months, the share the dealer rated when asked and its average score (as a
share of the service file's scale), and the collaboration dimension scores them."""
from __future__ import annotations

import uuid
from datetime import timedelta

from dealerflow.models import ServiceRequest
from dealerflow.shared import accounts

from .policy_support import unique
from .test_tiering import deploy, next_month, run_at, start, tier_of, tiering_yaml

COLLABORATION = ("    - {key: collaboration, weight: 100%, from: [rating_rate, satisfaction_share],"
                 " scale: [{at: 0, score: 0}, {at: 1, score: 100}], missing: 60}")


def closed(s, dealer, at, score=None):
    s.add(ServiceRequest(id=uuid.uuid4(), dealer_id=dealer.id, category="product", subject="s", status="closed",
                         tier=dealer.tier, region=dealer.region, assignee_role="hq", workflow_id="wf",
                         ruleset_version=1, outcome="resolved", filed_by="d", created_at=at - timedelta(days=1),
                         closed_at=at, satisfaction=score, rated_at=at if score is not None else None))


def test_rated_requests_feed_the_collaboration_dimension(client, make_dealer, make_user, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("st")
    pleased, silent, none = (make_dealer(region=region) for _ in range(3))
    deploy(client, admin, tiering_yaml(COLLABORATION))
    month, as_of = next_month(sessions)
    end = accounts.day_start(as_of)
    with sessions.begin() as s:
        closed(s, pleased.dealer, end - timedelta(days=30), score=5)  # top of the 1-5 scale
        closed(s, pleased.dealer, end - timedelta(days=20), score=4)
        closed(s, silent.dealer, end - timedelta(days=10))  # never rated
        closed(s, silent.dealer, end - timedelta(days=400), score=1)  # before the 12 months
        closed(s, pleased.dealer, end + timedelta(hours=1), score=1)  # after the run's end
    start(client, hq, month)
    run_at(client, hq, month, "closed")
    card = tier_of(client, hq, pleased)["scorecard"]
    f = card["figures"]
    assert (f["requests_closed"], f["rating_rate"], f["satisfaction_share"]) == (2, "1", "0.875")
    assert card["score"] == "93.75" and tier_of(client, hq, pleased)["tier"] == "core"  # (100 + 87.5) / 2
    f = tier_of(client, hq, silent)["scorecard"]["figures"]
    assert (f["requests_closed"], f["rating_rate"], f["satisfaction_share"]) == (1, "0", None)
    assert tier_of(client, hq, silent)["scorecard"]["score"] == "0.00"
    assert tier_of(client, hq, none)["scorecard"]["score"] == "60.00"  # nothing to score: `missing`


def test_the_tier_shows_the_benefits_the_platform_applies(client, make_dealer):
    core = make_dealer(tier="core")
    applied = client.get(f"/api/v1/dealers/{core.dealer.code}/tier", headers=core.headers).json()["applied"]
    assert applied["request_targets"]["resolution_seconds"] == 24 * 3600
    assert applied["request_targets"]["by_category"]["after_sales"]["resolution_seconds"] == 18 * 3600
    assert applied["contact_every_days"] == 7
