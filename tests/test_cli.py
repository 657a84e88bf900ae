"""The `dealerflow rules` commands a business admin runs before deploying."""
from __future__ import annotations

from launcher.main import main


def test_rules_validate_and_test_the_shipped_files(capsys):
    assert main(["rules", "validate"]) == 0
    out = capsys.readouterr().out
    assert "rules/credit_approval.yaml: ok (credit_approval, 3 rules" in out
    assert "rules/diversion.yaml: ok (diversion, 9 rules, 16 tests)" in out
    validated = out
    assert main(["rules", "test"]) == 0
    out = capsys.readouterr().out
    assert "PASS amount exactly equal to the headroom is approved" in out and "FAIL" not in out
    assert "rule examples: 111 of 111 pass" in out
    assert "rules/credit_score.yaml: ok (credit_score, 5 rules, 19 tests)" in validated


def test_rules_validate_reports_file_and_line_and_fails(tmp_path, capsys):
    bad = tmp_path / "credit.yaml"
    bad.write_text("ruleset: credit_approval\nkind: credit_approval\nfacts: {order.amount: {type: money}}\n"
                   "rules:\n  - name: big\n    when: order.amountt > 100\n    then: {decision: review}\n"
                   "default: {decision: approve}\n")
    assert main(["rules", "validate", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"{bad}:6 rules[0].when: unknown fact 'order.amountt' — did you mean 'order.amount'? (declared: order.amount)")


def test_seed_refuses_a_database_that_already_has_dealers(stack_settings, make_dealer, monkeypatch, capsys):
    make_dealer()
    monkeypatch.setenv("DATABASE_URL", stack_settings.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack_settings.temporal_address)
    assert main(["seed", "--dealers", "5"]) == 1
    assert "the demo dataset needs an empty database" in capsys.readouterr().err


def test_policy_preview_publish_and_status_from_the_command_line(settings, worker, sessions, make_dealer,
                                                                 monkeypatch, capsys):
    import json

    from dealerflow.shared import rulebook

    from .policy_support import policy_yaml, unique
    from .support import wait_until

    region = unique("r")
    dealer = make_dealer(region=region)
    policy_id = unique("p")
    with sessions.begin() as s:
        rulebook.deploy(s, filename=f"rules/policies/{policy_id}.yaml", actor="test",
                        text=policy_yaml(policy_id, f'dealer.region == "{region}"', ack="{required: true, deadline: 1h}",
                                         effective="{from: 2026-01-01, to: 2099-12-31}"))
    for name, value in (("DATABASE_URL", settings.database_url), ("TEMPORAL_ADDRESS", settings.temporal_address),
                        ("DEALERFLOW_TASK_QUEUE", settings.task_queue)):
        monkeypatch.setenv(name, value)
    assert main(["policy", "preview", policy_id]) == 0
    assert json.loads(capsys.readouterr().out)["sample"] == [dealer.dealer.code]
    assert main(["policy", "status", policy_id]) == 1
    assert "has not been published" in capsys.readouterr().err
    assert main(["policy", "publish", policy_id]) == 0
    assert capsys.readouterr().out.startswith(f"{policy_id} v1: started")
    assert main(["policy", "publish", policy_id]) == 0
    assert f"{policy_id} v1: unchanged" in capsys.readouterr().out

    def delivered():  # the rollout writes the policy row a moment after the start
        code, out = main(["policy", "status", policy_id]), capsys.readouterr().out
        return code == 0 and json.loads(out)["acknowledgment"]["delivered"] == 1
    wait_until(delivered, 20)
    assert main(["policy", "publish", "no_such_policy"]) == 1
    assert "has not been deployed" in capsys.readouterr().err


def test_master_data_is_imported_and_exported_from_the_command_line(stack_settings, sessions, monkeypatch, capsys,
                                                                   tmp_path):
    import uuid

    from sqlalchemy import select

    from dealerflow.models import Product
    from launcher.main import main

    monkeypatch.setenv("DATABASE_URL", stack_settings.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack_settings.temporal_address)
    sku = f"CLI-{uuid.uuid4().hex[:6]}"
    source = tmp_path / "products.csv"
    source.write_bytes(f"sku,name,unit_price\n{sku},推拉门,880\n".encode("gb18030"))
    assert main(["masterdata", "import", "products", str(source), "--encoding", "gb18030"]) == 0
    assert "dry run" in capsys.readouterr().out
    with sessions() as s:
        assert s.scalar(select(Product.id).where(Product.sku == sku)) is None
    assert main(["masterdata", "import", "products", str(source), "--encoding", "gb18030", "--apply"]) == 0
    with sessions() as s:
        assert s.scalar(select(Product.name).where(Product.sku == sku)) == "推拉门"
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,unit_price\nX-1,Door,abc\n")
    assert main(["masterdata", "import", "products", str(bad), "--apply"]) == 1
    assert "bad.csv:2: unit_price:" in capsys.readouterr().err
    out = tmp_path / "products.xlsx"
    assert main(["masterdata", "export", "products", str(out)]) == 0 and out.read_bytes().startswith(b"PK")
