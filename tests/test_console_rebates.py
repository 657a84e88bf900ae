"""The rebate pages of the console: a dealer follows its ladder and confirms or disputes its statement
(对账单); finance starts a settlement run, follows it and decides the tasks it raises."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from dealerflow.shared import accounts

from .policy_support import unique
from .settlement_support import approval_task, delivered, deploy_program, program_yaml, region, statement_of
from .support import PASSWORD, wait_until, send_csrf


def login(client, actor) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": actor.user.username, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def status_of(client, actor, statement_id: str) -> str:
    return client.get(f"/api/v1/statements/{statement_id}", headers=actor.headers).json()["status"]


def test_the_rebates_page_shows_where_the_dealer_stands_on_the_ladder(client, make_dealer, make_user, product,
                                                                       sessions):
    reg, admin, hq = region(), make_user("admin"), make_user("hq")
    # Level 2: out of the sample programs of rules/rebates/ that other tests may have deployed.
    dealer, idle = make_dealer(region=reg, level=2), make_dealer(region=unique("reg"), level=2)
    program = deploy_program(client, admin, program_yaml(unique("lad"), reg))
    today = accounts.business_date(datetime.now(timezone.utc)).isoformat()
    delivered(sessions, dealer, product, 20, today)  # 2000.00 this quarter: bracket 2 (1%) → 20.00

    login(client, dealer)
    page = client.get("/console/rebates")
    assert page.status_code == 200 and program in page.text
    reached = re.search(r'<li class="step reached"[^>]*>(.*?)</li>', page.text, re.S)
    assert reached and "Bracket 2" in reached.group(1) and "You: ¥2,000.00" in reached.group(1)
    assert "¥3,000.00</strong> more to reach bracket 3" in page.text
    assert "which would pay <strong>¥100.00</strong>" in page.text  # 2% of 5000.00
    assert 'class="earned">¥20.00<' in page.text and "bracket 2 (from 1000, 1%) on 2000.00" in page.text

    login(client, idle)
    assert "You are not in any rebate program this period." in client.get("/console/rebates").text
    login(client, hq)  # staff look at a dealer's ladder by its code
    assert "You: ¥2,000.00" in client.get("/console/rebates", params={"dealer": dealer.dealer.code}).text
    assert client.get("/console/rebates", params={"dealer": "NO-SUCH"}).status_code == 404


def test_finance_starts_a_run_and_dealers_answer_their_statements_in_the_console(
        client, make_dealer, make_user, product, sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer, neighbour = make_dealer(region=reg), make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("con"), reg, confirm="30s"))
    delivered(sessions, dealer, product, 40, "2025-05-10")  # 4000.00 → 1% = 40.00
    delivered(sessions, neighbour, product, 5, "2025-03-31")  # before the quarter: the opening balance

    login(client, finance)
    form = client.get("/console/settlements")
    assert form.status_code == 200 and f'<option value="{program}"' in form.text
    bad = client.post("/console/settlements", data={"program": program, "period": "2025-07"})
    assert bad.status_code == 422 and "settles by quarter" in bad.text and 'value="2025-07"' in bad.text
    r = client.post("/console/settlements", data={"program": program, "period": "2025-Q2", "upto": ""},
                    follow_redirects=False)
    run_id = f"{program}:2025-Q2"
    assert r.status_code == 303 and r.headers["location"] == f"/console/settlements/{program}%3A2025-Q2"
    run_page = wait_until(lambda: (p := client.get(r.headers["location"])).status_code == 200
                          and dealer.dealer.code in p.text and p)
    assert f'RebateProgram="{program}" SettlementPeriod="2025-Q2"' in run_page.text
    assert run_id in client.get("/console/settlements").text
    mine, theirs = statement_of(client, dealer, run_id), statement_of(client, neighbour, run_id)

    login(client, dealer)
    assert mine["id"] in client.get("/console/statements").text
    assert theirs["id"] not in client.get("/console/statements").text
    assert client.get(f"/console/statements/{theirs['id']}").status_code == 404
    assert client.post(f"/console/statements/{theirs['id']}/confirm").status_code == 404
    page = client.get(f"/console/statements/{mine['id']}")
    assert page.status_code == 200 and f'action="/console/statements/{mine["id"]}/confirm"' in page.text
    assert "bracket 2 (from 1000, 1%) on 4000.00 = 40.00" in page.text
    assert "rules/rebates/" not in page.text and "Rule file" not in page.text  # the rule file: staff only
    assert "肆拾元整" in page.text and "叁仟玖佰陆拾元整" in page.text  # the rebate and closing balance in capitals
    empty = client.post(f"/console/statements/{mine['id']}/dispute", data={"reason": "   "})
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    assert "reason: String should have at least 1 character" in empty.text
    assert status_of(client, dealer, mine["id"]) == "issued"
    r = client.post(f"/console/statements/{mine['id']}/confirm", data={"confirmed": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/statements/{mine['id']}"
    confirmed = client.get(r.headers["location"])
    assert '<span class="badge confirmed">confirmed</span>' in confirmed.text and "/confirm" not in confirmed.text
    again = client.post(f"/console/statements/{mine['id']}/dispute", data={"reason": "too late"})
    assert again.status_code == 409 and "already confirmed" in again.text

    # The printable page: every line of the balance, without the navigation or the forms.
    printable = client.get(f"/api/v1/statements/{mine['id']}", params={"format": "html"})
    assert printable.status_code == 200
    for label, amount in (("Opening balance", "¥0.00"), ("Deliveries (invoiced)", "¥4,000.00"),
                          ("Rebate of this settlement", "¥40.00"), ("Points converted", "¥0.00"),
                          ("Closing balance", "¥3,960.00")):
        in_row = rf"{re.escape(label)}(?:(?!</tr>).)*<td class=\"num\">{re.escape(amount)}</td>"
        assert re.search(in_row, printable.text, re.S), label
    assert "header, .no-print { display: none; }" in printable.text
    printing = client.get(f"/console/statements/{mine['id']}", params={"print": "1"})
    assert ".no-print { display: none; }" in printing.text

    login(client, neighbour)  # the neighbour disputes: finance gets a task that links to the statement
    r = client.post(f"/console/statements/{theirs['id']}/dispute", data={"reason": "the March delivery is not mine"},
                    follow_redirects=False)
    assert r.status_code == 303 and status_of(client, neighbour, theirs["id"]) == "disputed"
    assert "the March delivery is not mine" in client.get(r.headers["location"]).text

    login(client, finance)
    task = wait_until(lambda: next((t for t in client.get("/api/v1/tasks", headers=finance.headers).json()
                                    if t["kind"] == "statement_dispute" and t["subject_id"] == theirs["id"]), None))
    task_page = client.get(f"/console/tasks/{task['id']}")
    assert f'href="/console/statements/{theirs["id"]}"' in task_page.text
    assert f"rules/rebates/{program}.yaml" in client.get(f"/console/statements/{mine['id']}").text  # staff see it
    assert "the March delivery is not mine" in task_page.text
    assert client.post(f"/console/tasks/{task['id']}", data={"outcome": "uphold", "comment": "it is"},
                       follow_redirects=False).status_code == 303
    approval = approval_task(client, finance, run_id)
    approval_page = client.get(f"/console/tasks/{approval['id']}")
    assert f'href="/console/settlements/{run_id}"' in approval_page.text and "40.00" in approval_page.text
    assert f'href="/console/tasks/{approval["id"]}"' in client.get(f"/console/settlements/{run_id}").text
