"""Rule governance end to end on the real servers: what-if replay of a candidate credit file over the
stored decisions (flips counted exactly, by region and tier), its stored report and downloads, the CLI
gate, and bad input refused with nothing stored."""
from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from dealerflow.models import ReplayReport
from launcher.main import main

CREDIT = (Path(__file__).parent.parent / "rules" / "credit_approval.yaml").read_text(encoding="utf-8")
# Only rating A approves on its own: a B-rated order within headroom now goes to review.
STRICTER = CREDIT.replace('dealer.rating in ["A", "B"]', 'dealer.rating in ["A"]').replace(
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: B",
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: A")
TODAY = date.today().isoformat()


def order(client, actor, product, quantity):
    r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": quantity}]},
                    headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


def replay(client, user, text, **params):
    return client.post("/api/v1/rules/replay", content=text.encode(),
                       params={"filename": "rules/credit_approval.yaml", **params},
                       headers={**user.headers, "Content-Type": "application/yaml"})


def test_replay_counts_every_flip_with_its_amount_by_region_and_tier(client, make_dealer, make_user, product, sessions):
    admin = make_user("admin")
    region = f"r-{uuid.uuid4().hex[:6]}"
    b_rated = make_dealer(rating="B", region=region, tier="gold", credit_limit=Decimal("10000.00"))
    a_rated = make_dealer(rating="A", region=region, tier="normal", credit_limit=Decimal("10000.00"))
    assert order(client, b_rated, product, 3)["status"] == "approved"  # 300.00
    assert order(client, b_rated, product, 2)["status"] == "approved"  # 200.00
    assert order(client, a_rated, product, 4)["status"] == "approved"  # stays approved

    r = replay(client, admin, STRICTER, since=TODAY, samples=50)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["ruleset"] == "credit_approval" and len(report["content_hash"]) == 64
    mine = [b for b in report["breakdown"] if b["group"] == "region" and b["key"] == region]
    assert mine == [{"group": "region", "key": region, "from": "approve", "to": "review", "count": 2, "amount": "500.00"}]
    assert report["totals"]["changed"] >= 2 and report["totals"]["replayed"] >= 3
    assert any(b["group"] == "tier" and b["key"] == "gold" and b["count"] >= 2 for b in report["breakdown"])
    sample = next(s for s in report["samples"] if s["region"] == region)
    assert sample["before"]["rule"] == "approve-within-headroom" and sample["after"]["rule"] == "default"
    assert "needs a credit manager's review" in sample["after"]["reason"]
    assert "fits in the credit headroom" in sample["before"]["reason"]

    # Stored: read again by id, and as CSV (with BOM) and XLSX.
    got = client.get(f"/api/v1/rules/replays/{report['id']}", headers=admin.headers).json()
    assert got["content_hash"] == report["content_hash"] and got["breakdown"] == report["breakdown"]
    csv = client.get(f"/api/v1/rules/replays/{report['id']}", params={"format": "csv"}, headers=admin.headers)
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    assert f"breakdown,region,{region},approve,review,2,500.00" in csv.content.decode("utf-8-sig")
    xlsx = client.get(f"/api/v1/rules/replays/{report['id']}", params={"format": "xlsx"}, headers=admin.headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert ["breakdown", "region", region, "approve", "review", 2, Decimal("500.00")] in [
        [c.value if not isinstance(c.value, float) else Decimal(str(c.value)).quantize(Decimal("0.01"))
         for c in row][:7] for row in sheet.iter_rows()]

    # The same file changes nothing: no flips in its own region.
    same = replay(client, admin, CREDIT, since=TODAY).json()
    assert not [b for b in same["breakdown"] if b["key"] == region]


def test_replay_refuses_bad_input_and_stores_nothing(client, make_user, sessions):
    admin, hq = make_user("admin"), make_user("hq")
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(ReplayReport))
    broken = CREDIT.replace("when: dealer.overdue_days > 90", "when: dealer.overdue_dayz > 90")
    r = replay(client, admin, broken)
    assert r.status_code == 422
    assert r.json()["errors"][0]["text"].startswith("rules/credit_approval.yaml:")
    # A ruleset keeps its kind: a tiering file cannot be named credit_approval.
    tiering = (Path(__file__).parent.parent / "rules" / "tiering.yaml").read_text(encoding="utf-8")
    wrong = tiering.replace("ruleset: tiering", "ruleset: credit_approval", 1)
    assert replay(client, admin, wrong).status_code == 409
    # A window without decisions.
    r = replay(client, admin, STRICTER, since="2001-01-01", until="2001-01-31")
    assert r.status_code == 422 and "no stored credit_approval decisions" in r.json()["detail"]
    assert replay(client, admin, STRICTER, since="2026-02-01", until="2026-01-01").status_code == 422
    assert replay(client, hq, STRICTER).status_code == 403  # HQ replays policy files only
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReplayReport)) == before
    assert client.get(f"/api/v1/rules/replays/{uuid.uuid4()}", headers=admin.headers).status_code == 404


def test_cli_replay_gates_on_the_number_of_flips(client, make_dealer, product, stack_settings, monkeypatch,
                                                 tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", stack_settings.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack_settings.temporal_address)
    dealer = make_dealer(rating="B", credit_limit=Decimal("10000.00"))
    assert order(client, dealer, product, 1)["status"] == "approved"
    candidate = tmp_path / "credit_approval.yaml"
    candidate.write_text(STRICTER, encoding="utf-8")
    assert main(["rules", "replay", str(candidate), "--since", TODAY, "--max-flips", "100000"]) == 0
    out = capsys.readouterr().out
    assert "replay " in out and "changed" in out and "approve → review" in out
    assert main(["rules", "replay", str(candidate), "--since", TODAY, "--max-flips", "0"]) == 3
    assert "changed decisions: more than the 0 allowed" in capsys.readouterr().err
    assert main(["rules", "replay", str(candidate), "--since", "2001-01-01", "--until", "2001-01-02"]) == 1
    assert "no stored credit_approval decisions" in capsys.readouterr().err
    bad = tmp_path / "credit_approval.yaml"
    bad.write_text(STRICTER.replace("dealer.overdue_days > 90", "dealer.overdue_dayz > 90"), encoding="utf-8")
    assert main(["rules", "replay", str(bad)]) == 1
    assert ":" in capsys.readouterr().err


def test_a_decision_stored_before_its_context_is_broken_down_by_the_dealer_today(client, make_dealer, make_user,
                                                                                 product, sessions):
    from sqlalchemy import null, update

    from dealerflow.models import Decision

    admin = make_user("admin")
    region = f"r-{uuid.uuid4().hex[:6]}"
    dealer = make_dealer(rating="B", region=region, tier="key", credit_limit=Decimal("10000.00"))
    placed = order(client, dealer, product, 1)
    with sessions.begin() as s:
        s.execute(update(Decision).where(Decision.subject_id == placed["id"]).values(context=null()))
    report = replay(client, admin, STRICTER, since=TODAY).json()
    assert [b for b in report["breakdown"] if b["key"] == region] == [
        {"group": "region", "key": region, "from": "approve", "to": "review", "count": 1, "amount": "100.00"}]
