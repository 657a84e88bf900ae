"""Who may deploy which ruleset: decided by the ruleset's kind as stored, not by the file's; a
ruleset keeps its kind and a file is named after its ruleset (API and `dealerflow rules deploy`)."""
from __future__ import annotations

from dealerflow.core.config import ROOT
from launcher.main import main

from .policy_support import deploy, policy_yaml, unique
from .settlement_support import program_yaml

CREDIT = (ROOT / "rules" / "credit_approval.yaml").read_text()


def active_versions(client, admin) -> dict:
    return {(v["ruleset"], v["version"]) for v in client.get("/api/v1/rules", headers=admin.headers).json()}


def test_hq_cannot_replace_an_admin_ruleset_with_a_policy_file(client, make_user):
    hq, admin = make_user("hq"), make_user("admin")
    before = active_versions(client, admin)
    for ruleset in ("credit_approval", "tiering", "diversion"):
        text = policy_yaml(ruleset, "dealer.level == 1")
        r = deploy(client, hq, text, filename=f"rules/{ruleset}.yaml")
        assert r.status_code == 403, r.text
        assert ruleset in r.json()["detail"]
        # Not by another path either: the name check does not let a policy file through.
        assert deploy(client, hq, text, filename=f"rules/policies/{ruleset}.yaml").status_code == 403
    assert active_versions(client, admin) == before


def test_a_ruleset_keeps_the_kind_of_its_first_version(client, make_user):
    hq, admin = make_user("hq"), make_user("admin")
    before = active_versions(client, admin)
    r = deploy(client, admin, policy_yaml("credit_approval", "dealer.level == 1"), filename="rules/credit_approval.yaml")
    assert r.status_code == 409, r.text
    assert "credit_approval" in r.json()["detail"] and "kind" in r.json()["detail"]
    policy_id = unique("p")
    assert deploy(client, hq, policy_yaml(policy_id, "dealer.level == 1")).status_code == 201
    program = program_yaml(policy_id, "east")  # a rebate file naming the policy's ruleset
    assert deploy(client, hq, program, filename=f"rules/rebates/{policy_id}.yaml").status_code == 403
    r = deploy(client, admin, program, filename=f"rules/rebates/{policy_id}.yaml")
    assert r.status_code == 409 and policy_id in r.json()["detail"], r.text
    assert active_versions(client, admin) == before | {(policy_id, 1)}


def test_a_rule_file_is_named_after_its_ruleset(client, make_user):
    hq, admin = make_user("hq"), make_user("admin")
    policy_id = unique("p")
    r = deploy(client, hq, policy_yaml(policy_id, "dealer.level == 1"), filename="rules/policies/other.yaml")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == "ruleset" and policy_id in r.json()["detail"]
    r = deploy(client, admin, CREDIT, filename="rules/credit.yaml")
    assert r.status_code == 422 and "credit_approval" in r.json()["detail"], r.text


def test_the_command_line_deploy_applies_the_same_checks(stack_settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", stack_settings.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack_settings.temporal_address)
    misnamed = tmp_path / "credit.yaml"
    misnamed.write_text(CREDIT)
    assert main(["rules", "deploy", str(misnamed)]) == 1
    assert "credit_approval" in capsys.readouterr().err
    hijack = tmp_path / "credit_approval.yaml"
    hijack.write_text(policy_yaml("credit_approval", "dealer.level == 1"))
    assert main(["rules", "deploy", str(hijack)]) == 1
    err = capsys.readouterr().err
    assert "credit_approval" in err and "kind" in err and "nothing deployed" in err
