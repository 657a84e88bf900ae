"""A proposal's comment thread and its withdrawal, a proposal saved while Temporal is unreachable
opening its task from the sweep, `effective_until` on the console's form, settlements at the rules
their program file names (`settle_with`), running processes following a new version when its file
says so, and the `dealerflow rules` proposal commands — on the real servers."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from dealerflow.contracts import SettlementInput
from dealerflow.models import PendingProposalStart, RuleProposal, SettlementRun, Statement
from dealerflow.rebates import settlement
from dealerflow.shared import accounts, rulebook
from launcher.main import main
from policies_dsl import RuleFileError, load_rule_file

from .settlement_support import delivered, program_yaml
from .support import wait_until
from .test_console_admin import as_user
from .test_governance_flow import FILE, STRICTER, YAML

# The open proposal of one file waits alone: each test proposes content of its own.
def unique_credit() -> str:
    return STRICTER + f"# change {uuid.uuid4().hex}\n"


@pytest.fixture
def gov(settings, worker):
    with TestClient(create_app(settings.with_(rules_four_eyes=True)), headers={"Accept-Language": "en"}) as c:
        yield c


def propose(client, user, text, **params):
    r = client.post("/api/v1/rules/proposals", content=text.encode(), params={**FILE, **params},
                    headers={**user.headers, **YAML})
    return r


def task_row(sessions, task_id: str):
    from dealerflow.models import HumanTask
    with sessions() as s:
        return s.get(HumanTask, uuid.UUID(task_id))


def task_status(client, user, task_id):
    r = client.get(f"/api/v1/tasks/{task_id}", headers=user.headers)
    return r.status_code == 200 and r.json()["status"]


def test_comments_and_withdrawal_end_the_task_with_why(gov, make_user):
    author, second, hq = make_user("admin"), make_user("admin"), make_user("hq")
    proposal = propose(gov, author, unique_credit(), comment="stricter B").json()
    base = f"/api/v1/rules/proposals/{proposal['id']}"
    wait_until(lambda: task_status(gov, second, proposal["task_id"]) == "open")

    r = gov.post(f"{base}/comments", json={"body": "What does the replay say for the north?"}, headers=second.headers)
    assert r.status_code == 201 and r.json()["author"] == second.user.username
    assert gov.post(f"{base}/comments", json={"body": "Three flips, all small."}, headers=author.headers).status_code == 201
    refused = gov.post(f"{base}/comments", json={"body": "HQ here"}, headers=hq.headers)  # not a policy file
    assert refused.status_code == 403
    assert gov.post(f"{base}/comments", json={"body": ""}, headers=second.headers).status_code == 422
    assert gov.post(f"{base}/comments", json={"body": "x", "extra": 1}, headers=second.headers).status_code == 422
    missing = gov.post(f"/api/v1/rules/proposals/{uuid.uuid4()}/comments", json={"body": "x"}, headers=second.headers)
    assert missing.status_code == 404
    read = gov.get(base, headers=second.headers).json()
    assert [(c["author"], c["body"]) for c in read["comments"]] == [
        (second.user.username, "What does the replay say for the north?"),
        (author.user.username, "Three flips, all small.")]

    assert gov.post(f"{base}/withdraw", json={"reason": "mine"}, headers=second.headers).status_code == 403
    assert gov.post(f"{base}/withdraw", json={"reason": ""}, headers=author.headers).status_code == 422
    assert gov.post(f"/api/v1/rules/proposals/{uuid.uuid4()}/withdraw", json={"reason": "x"},
                    headers=author.headers).status_code == 404
    r = gov.post(f"{base}/withdraw", json={"reason": "the north asked for a quarter more"}, headers=author.headers)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["decided_by"], done["decision_comment"]) == (
        "withdrawn", author.user.username, "the north asked for a quarter more")
    assert task_status(gov, second, proposal["task_id"]) == "cancelled"
    assert gov.post(f"{base}/withdraw", json={"reason": "again"}, headers=author.headers).status_code == 409
    assert gov.post(f"{base}/decide", json={"outcome": "approve"}, headers=second.headers).status_code == 409
    trail = [(a["action"], a["note"]) for a in gov.get("/api/v1/rules/audit", params={"ruleset": "credit_approval"},
                                                       headers=second.headers).json()
             if a["proposal_id"] == proposal["id"]]
    assert trail[:3] == [("withdrawn", "the north asked for a quarter more"), ("commented", "Three flips, all small."),
                         ("commented", "What does the replay say for the north?")]
    # Its workflow ends: the task it waited on was cancelled.
    task_events = gov.get(f"/api/v1/tasks/{proposal['task_id']}", headers=second.headers).json()
    assert task_events["status"] == "cancelled"


def test_comments_and_withdrawal_in_the_console(gov, make_user):
    author, second = make_user("admin"), make_user("admin")
    proposal = propose(gov, author, unique_credit()).json()
    where = f"/console/rules/proposals/{proposal['id']}"
    as_user(gov, second)
    page = gov.get(where)
    assert "No comments yet." in page.text and "Withdraw this proposal" not in page.text  # not theirs
    r = gov.post(f"{where}/comment", data={"body": "Looks right to me"})
    assert r.status_code == 200 and "Comment added." in r.text and "Looks right to me" in r.text
    refused = gov.post(f"{where}/withdraw", data={"reason": "no"})  # not theirs: the page says so, still open
    assert "only the person who proposed a change withdraws it" in refused.text
    assert gov.get(f"/api/v1/rules/proposals/{proposal['id']}", headers=second.headers).json()["status"] == "open"
    as_user(gov, author)
    assert "Withdraw this proposal" in gov.get(where).text
    empty = gov.post(f"{where}/withdraw", data={"reason": "  "})
    assert "say why the proposal is withdrawn" in empty.text
    r = gov.post(f"{where}/withdraw", data={"reason": "superseded by a better change"})
    assert r.status_code == 200 and "Withdrawn: nobody needs to approve it now." in r.text
    assert "superseded by a better change" in r.text and "Withdraw this proposal" not in r.text


def test_a_proposal_saved_while_temporal_is_unreachable_opens_its_task_from_the_sweep(gov, make_user, sessions,
                                                                                       settings, monkeypatch):
    from api.governance.temporal import run_proposal_sweep
    from dealerflow.core.temporal import connect

    author, second = make_user("admin"), make_user("admin")

    async def unreachable(*args, **kwargs):
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(gov.app.state.temporal, "start_workflow", unreachable)
    r = propose(gov, author, unique_credit())
    assert r.status_code == 201, r.text  # saved all the same
    proposal = r.json()
    monkeypatch.undo()
    with sessions() as s:
        assert s.get(PendingProposalStart, uuid.UUID(proposal["id"])) is not None
    assert gov.get(f"/api/v1/tasks/{proposal['task_id']}", headers=second.headers).status_code == 404

    async def sweep():
        c = await connect(settings)
        return await run_proposal_sweep(client=c, task_queue=settings.task_queue,
                                        now=datetime.now(timezone.utc) + timedelta(minutes=5))

    result = asyncio.run(sweep())
    assert proposal["id"] in [s.proposal_id for s in result.starts]
    wait_until(lambda: task_status(gov, second, proposal["task_id"]) == "open")
    with sessions() as s:
        assert s.get(PendingProposalStart, uuid.UUID(proposal["id"])) is None
    assert proposal["id"] not in [s.proposal_id for s in asyncio.run(sweep()).starts]  # started once
    # The task the sweep opened is the proposal's: answering it applies the answer.
    r = gov.post(f"/api/v1/rules/proposals/{proposal['id']}/decide",
                 json={"outcome": "reject", "comment": "not this quarter"}, headers=second.headers)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_a_proposal_started_at_once_leaves_nothing_in_the_outbox(gov, make_user, sessions):
    proposal = propose(gov, make_user("admin"), unique_credit()).json()
    with sessions() as s:
        assert s.get(PendingProposalStart, uuid.UUID(proposal["id"])) is None
        assert s.get(RuleProposal, uuid.UUID(proposal["id"])).status == "open"


def test_the_console_form_takes_effective_until_after_effective_from(gov, make_user):
    author = make_user("admin")
    as_user(gov, author)
    text = unique_credit()
    check = gov.post("/console/rules/validate", data={"filename": "rules/credit_approval.yaml", "text": text})
    assert 'name="effective_until"' in check.text
    form = {"filename": "rules/credit_approval.yaml", "text": text, "mode": "active"}
    bad = gov.post("/console/rules/propose", data={**form, "effective_from": "2099-03-01T08:00",
                                                   "effective_until": "2099-02-01T08:00"})
    assert "effective_until comes after effective_from" in bad.text
    soon = gov.post("/console/rules/propose", data={**form, "effective_until": "soon"})
    assert "is not a date and time like 2026-12-01T08:00" in soon.text
    r = gov.post("/console/rules/propose", data={**form, "effective_from": "2099-02-01T08:00",
                                                 "effective_until": "2099-03-01T08:00"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    proposal_id = r.headers["location"].rsplit("/", 1)[1]
    read = gov.get(f"/api/v1/rules/proposals/{proposal_id}", headers=author.headers).json()
    assert datetime.fromisoformat(read["effective_until"]) == datetime(2099, 3, 1, 8, tzinfo=accounts.CHINA)
    assert datetime.fromisoformat(read["effective_from"]) == datetime(2099, 2, 1, 8, tzinfo=accounts.CHINA)
    assert "Stops applying" in gov.get(r.headers["location"]).text


# --- settlements at the rules their program file names ----------------------------------------------

def settle_with(text: str, moment: str | None) -> str:
    return text if moment is None else text + f"    settle_with: {moment}\n"


def test_settle_with_is_checked_with_its_line():
    text = settle_with(program_yaml("p_x", "r"), "period_ending")
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/rebates/p_x.yaml", text)
    assert str(e.value).startswith("rules/rebates/p_x.yaml:14 rebate.settlement.settle_with:")
    assert "period_end" in str(e.value)
    assert load_rule_file("rules/rebates/p_x.yaml", settle_with(program_yaml("p_x", "r"), "period_end")
                          ).spec.settle_with == "period_end"
    assert load_rule_file("rules/rebates/p_x.yaml", program_yaml("p_x", "r")).spec.settle_with == "settlement_date"


@pytest.mark.parametrize("moment, rate, which", [(None, "3%", 3), ("settlement_date", "3%", 3),
                                                 ("period_end", "2%", 2), ("period_start", "1%", 1)])
def test_a_settlement_uses_the_version_in_force_at_the_moment_its_file_names(moment, rate, which, make_dealer,
                                                                            product, sessions):
    """Three versions of one program: v1 until mid-May 2025, v2 to the end of 2025-Q2, v3 after it.
    The run of 2025-Q2, made today, uses the version its (current) file names and records it."""
    name, region = f"sw_{uuid.uuid4().hex[:8]}", f"sw-{uuid.uuid4().hex[:6]}"
    dealer = make_dealer(region=region)
    delivered(sessions, dealer, product, 100, "2025-05-20")
    china = accounts.CHINA
    cuts = [datetime(2025, 5, 15, tzinfo=china), datetime(2025, 7, 1, tzinfo=china)]
    texts = [program_yaml(name, region, brackets=f"[{{from: 0, rate: {r}}}]") for r in ("1%", "2%", "3%")]
    texts[2] = settle_with(texts[2], moment)
    with sessions.begin() as s:
        for text, start, until in zip(texts, [None, *cuts], [*cuts, None]):
            rulebook.deploy(s, filename=f"rules/rebates/{name}.yaml", text=text, actor="test",
                            effective_from=start, effective_until=until)
    run_id = f"{name}:2025-Q2"
    with sessions.begin() as s:
        settlement.freeze(s, SettlementInput(run_id, name, "2025-Q2", "2025-Q2", "test"), now=datetime.now(timezone.utc))
    with sessions() as s:
        run = s.get(SettlementRun, run_id)
        statement = s.scalars(select(Statement).where(Statement.run_id == run_id)).one()
    assert run.ruleset_version == which and run.totals["rules"]["version"] == which
    assert run.totals["rules"]["settle_with"] == (moment or "settlement_date")
    assert statement.rebate == (product.unit_price * 100 * Decimal(rate.rstrip("%")) / 100).quantize(Decimal("0.01"))
    if moment == "period_end":
        assert run.totals["rules"]["as_of"].startswith("2025-06-30T23:59:59.999999")


def test_a_settlement_refuses_a_moment_no_version_covered(make_dealer, sessions):
    name, region = f"sw_{uuid.uuid4().hex[:8]}", f"sw-{uuid.uuid4().hex[:6]}"
    with sessions.begin() as s:
        rulebook.deploy(s, filename=f"rules/rebates/{name}.yaml", actor="test",
                        text=settle_with(program_yaml(name, region), "period_start"),
                        effective_from=datetime(2025, 5, 1, tzinfo=accounts.CHINA))
    with pytest.raises(settlement.SettlementError) as e, sessions.begin() as s:
        settlement.freeze(s, SettlementInput(f"{name}:2025-Q2", name, "2025-Q2", "2025-Q2", "test"),
                          now=datetime.now(timezone.utc))
    assert str(e.value) == (f"{name} settles with the rules in force at its period start (2025-04-01 00:00 Beijing"
                            " time), and no version of it was in force then")
    with sessions() as s:
        assert s.get(SettlementRun, f"{name}:2025-Q2") is None


# --- running processes follow a new version when its file says so ------------------------------------

def test_only_a_kind_whose_processes_read_their_file_again_may_follow_the_latest_version():
    """A settlement keeps the version its program names and a rollout the text dealers acknowledged:
    a rebate file saying follow_latest would promise what no process does, so it is refused at its line."""
    text = "running_processes: follow_latest\n" + program_yaml("p_y", "r")
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/rebates/p_y.yaml", text)
    assert str(e.value).startswith("rules/rebates/p_y.yaml:1 running_processes: a rebate file cannot say follow_latest")
    pinned = load_rule_file("rules/rebates/p_y.yaml", "running_processes: pinned\n" + program_yaml("p_y", "r"))
    assert pinned.running_processes == "pinned"


def test_a_running_tiering_run_follows_a_version_that_says_follow_latest(client, make_dealer, make_user, sessions):
    from dealerflow.models import TieringRun, TierScore

    from .policy_support import inbox_task, unique
    from .test_tiering import APPROVAL, deploy, next_month, run_at, start, tiering_yaml

    admin, hq, region = make_user("admin"), make_user("hq"), unique("follow")
    falling = make_dealer(region=region, tier="core")
    deploy(client, admin, tiering_yaml(extra=APPROVAL))
    with sessions() as s:
        started_with = rulebook.active_version(s, "tiering").version
    month, _ = next_month(sessions)
    start(client, hq, month)
    run_at(client, hq, month, "awaiting_approval")
    # The new version's file says running processes follow it: the run's notices use its benefits.
    deploy(client, admin, "running_processes: follow_latest\n" + tiering_yaml(extra=APPROVAL).replace(
        "benefits: [Standard policies]", "benefits: [Standard policies, Online training]"))
    task = inbox_task(client, hq, lambda t: t["kind"] == "tier_downgrade" and t["subject_id"] == month)
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=hq.headers).status_code == 200
    run_at(client, hq, month, "closed")
    with sessions() as s:
        run = s.get(TieringRun, month)
        assert run.ruleset_version == started_with and run.totals["followed_version"] == started_with + 1
        card = s.get(TierScore, (month, falling.dealer.id))
        assert (card.status, card.new_tier, card.explanation["version"]) == ("applied", "normal", started_with)
    notices = [n for n in client.get("/api/v1/notifications", headers=falling.headers).json() if n["kind"] == "tier"]
    assert [n["body"] for n in notices] == ["Benefits: Standard policies; Online training"]


def test_a_running_tiering_run_stays_pinned_by_default(client, make_dealer, make_user, sessions):
    from dealerflow.models import TieringRun

    from .policy_support import inbox_task, unique
    from .test_tiering import APPROVAL, deploy, next_month, run_at, start, tiering_yaml

    admin, hq, region = make_user("admin"), make_user("hq"), unique("pinned")
    falling = make_dealer(region=region, tier="core")
    deploy(client, admin, tiering_yaml(extra=APPROVAL))
    month, _ = next_month(sessions)
    start(client, hq, month)
    run_at(client, hq, month, "awaiting_approval")
    deploy(client, admin, "running_processes: pinned\n" + tiering_yaml(extra=APPROVAL).replace(
        "benefits: [Standard policies]", "benefits: [Standard policies, Online training]"))
    task = inbox_task(client, hq, lambda t: t["kind"] == "tier_downgrade" and t["subject_id"] == month)
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=hq.headers).status_code == 200
    run_at(client, hq, month, "closed")
    with sessions() as s:
        assert "followed_version" not in s.get(TieringRun, month).totals
    notices = [n for n in client.get("/api/v1/notifications", headers=falling.headers).json() if n["kind"] == "tier"]
    assert [n["body"] for n in notices] == ["Benefits: Standard policies"]


# --- the command line ------------------------------------------------------------------------------

def test_propose_list_approve_reject_and_versions_from_the_command_line(settings, worker, sessions, make_user,
                                                                       tmp_path, monkeypatch, capsys):
    author, second = make_user("admin"), make_user("admin")
    for name, value in (("DATABASE_URL", settings.database_url), ("TEMPORAL_ADDRESS", settings.temporal_address),
                        ("DEALERFLOW_TASK_QUEUE", settings.task_queue)):
        monkeypatch.setenv(name, value)
    name, region = f"cli_{uuid.uuid4().hex[:8]}", f"cli-{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(program_yaml(name, region), encoding="utf-8")
    assert main(["rules", "propose", str(path), "--as", author.user.username, "--note", "a new program",
                 "--effective-from", "2099-01-01T00:00", "--effective-until", "2099-12-31T00:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proposal ") and f"{name}, waiting for a second person" in out
    proposal_id = out.split()[1].rstrip(":")
    assert main(["rules", "proposals", "--as", second.user.username, "--status", "open"]) == 0
    listed = capsys.readouterr().out
    assert f"{proposal_id}  open      {name}" in listed and "from 2099-01-01 00:00  until 2099-12-31 00:00" in listed

    with sessions() as s:
        task_id = str(s.get(RuleProposal, uuid.UUID(proposal_id)).task_id)
    wait_until(lambda: task_row(sessions, task_id) is not None)
    assert main(["rules", "approve", proposal_id, "--as", author.user.username]) == 1  # four eyes
    assert "a second person must approve" in capsys.readouterr().err
    assert main(["rules", "reject", proposal_id, "--as", second.user.username]) == 1
    assert "say why the change is rejected" in capsys.readouterr().err
    assert main(["rules", "approve", "not-an-id", "--as", second.user.username]) == 1
    assert "is not a proposal id" in capsys.readouterr().err
    assert main(["rules", "approve", proposal_id, "--as", second.user.username]) == 0
    assert capsys.readouterr().out.strip() == f"proposal {proposal_id}: approved, {name} v1"
    assert main(["rules", "versions", name, "--as", second.user.username]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("v1    scheduled    from 2099-01-01 00:00 until 2099-12-31 00:00")

    path.write_text(program_yaml(name, region, basis="incremental"), encoding="utf-8")
    assert main(["rules", "propose", str(path), "--as", author.user.username]) == 0
    second_id = capsys.readouterr().out.split()[1].rstrip(":")
    with sessions() as s:
        task_id = str(s.get(RuleProposal, uuid.UUID(second_id)).task_id)
    wait_until(lambda: task_row(sessions, task_id) is not None)
    assert main(["rules", "reject", second_id, "--as", second.user.username, "--reason", "incremental pays less"]) == 0
    assert capsys.readouterr().out.strip() == f"proposal {second_id}: rejected"
    assert main(["rules", "proposals", "--as", "nobody-" + uuid.uuid4().hex]) == 1
    assert "no active user" in capsys.readouterr().err
    dealer_user = make_user("finance")
    assert main(["rules", "versions", name, "--as", dealer_user.user.username]) == 1
    assert "rule changes are proposed and approved by admin or hq" in capsys.readouterr().err
