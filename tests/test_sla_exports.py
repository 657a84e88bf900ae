"""The SLA report as a download (CSV in UTF-8 with BOM, XLSX) scoped like the report, and the working
calendar's gaps made visible: a year chinese_calendar does not know runs Monday to Friday, is logged
once, and is named on the report and its page."""
from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, timedelta, timezone

from openpyxl import load_workbook

from dealerflow.contracts import TaskResult
from dealerflow.models import Dealer, ServiceRequest
from dealerflow.service import reports as service_reports, requests as service
from policies_dsl import working_time
from policies_dsl.working_time import CHINA, WorkingCalendar, calendar_gaps

from .policy_support import unique
from .test_console_service import login


def test_the_sla_report_downloads_as_csv_and_xlsx_for_the_callers_dealers(client, sessions, make_dealer, make_user):
    region = unique("se")
    am = make_user("account_manager")
    core = make_dealer(tier="core", region=region, account_manager=am.user.username).dealer
    rm = make_user("region_manager", region=region)
    outsider = make_user("region_manager", region=unique("sy"))
    now = datetime.now(timezone.utc)
    with sessions.begin() as s:
        done, _ = service.file_request(s, dealer=s.get(Dealer, core.id), actor="d", category="product",
                                       subject="=cmd|' /C calc'!A0", text="t", attachments=[],
                                       now=now - timedelta(days=1))
        s.flush()
        service.close(s, done.id, TaskResult(str(done.task_id), "resolved", am.user.username),
                      now - timedelta(days=1) + timedelta(minutes=5))
        s.get(ServiceRequest, done.id).satisfaction, s.get(ServiceRequest, done.id).rated_at = 5, now
    report = client.get("/api/v1/service/reports/sla", headers=rm.headers).json()

    r = client.get("/api/v1/service/reports/sla/export", params={"format": "csv"}, headers=rm.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="sla-') and r.content[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert list(rows[0]) == list(service_reports.COLUMNS)
    tiers = [row for row in rows if row["section"] == "tier"]
    assert [(t["key"], t["requests"], t["resolution_met"], t["satisfaction"]) for t in tiers] == \
        [(t["key"], str(t["requests"]), str(t["resolution_met"]), str(t["satisfaction"])) for t in report["by_tier"]]
    assert [row["key"] for row in rows if row["section"] == "backlog"] == [b["age"] for b in report["backlog"]]
    total = next(row for row in rows if row["section"] == "total")
    assert total["requests"] == str(report["totals"]["requests"]) == "1"

    x = client.get("/api/v1/service/reports/sla/export", params={"format": "xlsx"}, headers=rm.headers)
    assert x.status_code == 200 and x.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(x.content)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet.title == "SLA" and cells[0] == list(service_reports.COLUMNS) and len(cells) == len(rows) + 1
    assert [(c[1], c[2]) for c in cells[1:] if c[0] == "tier"] == [(t["key"], t["requests"]) for t in report["by_tier"]]

    other = client.get("/api/v1/service/reports/sla/export", headers=outsider.headers)
    assert [row for row in csv.DictReader(io.StringIO(other.content.decode("utf-8-sig")))
            if row["section"] == "tier"] == []
    assert client.get("/api/v1/service/reports/sla/export", params={"format": "pdf"},
                      headers=rm.headers).status_code == 422
    assert client.get("/api/v1/service/reports/sla/export", params={"since": "2026-10-09", "until": "2026-10-08"},
                      headers=rm.headers).status_code == 422


def _last_known_year() -> int:
    year = date.today().year - 5
    while working_time.year_known(year + 1):
        year += 1
    return year


def test_a_year_the_calendar_does_not_know_runs_monday_to_friday_and_is_logged_once(caplog):
    unknown = _last_known_year() + 1
    assert calendar_gaps(date(unknown - 1, 6, 1), date(unknown + 1, 1, 2)) == [unknown, unknown + 1]
    assert calendar_gaps(date(unknown - 1, 1, 1), date(unknown - 1, 12, 31)) == []
    year = 2097  # no other test reads it, so its warning is still to come in this process
    first = date(year, 1, 1)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    with caplog.at_level(logging.WARNING, logger="policies_dsl.working_time"):
        calendar = WorkingCalendar()
        start = datetime(monday.year, monday.month, monday.day, 9, tzinfo=CHINA)
        # 5 working days of 9 hours from a Monday 09:00 end on Friday 18:00: no holiday is known
        assert calendar.add(start, 5 * 9 * 3600) == start + timedelta(days=4, hours=9)
        assert calendar.add(start + timedelta(days=4), 9 * 3600 + 1) > start + timedelta(days=7)  # the weekend is off
    warnings = [r.getMessage() for r in caplog.records if str(year) in r.getMessage()]
    assert len(warnings) == 1 and f"holidays for {year} not known: Monday to Friday assumed" in warnings[0]


def test_the_report_and_its_page_name_a_year_without_known_holidays(client, make_user):
    hq = make_user("hq")
    year = _last_known_year() + 2
    params = {"since": f"{year}-01-01", "until": f"{year}-01-31"}
    report = client.get("/api/v1/service/reports/sla", params=params, headers=hq.headers).json()
    assert report["calendar_unknown_years"] == [year]
    assert report["calendar_notes"] == [f"holidays for {year} not known: Monday to Friday assumed"]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/service/reports/sla/export", params=params,
                                                      headers=hq.headers).content.decode("utf-8-sig"))))
    assert rows[-1]["section"] == "calendar" and rows[-1]["key"] == report["calendar_notes"][0]
    known = client.get("/api/v1/service/reports/sla", params={"since": f"{_last_known_year()}-01-01",
                                                             "until": f"{_last_known_year()}-01-31"},
                       headers=hq.headers).json()
    assert str(_last_known_year()) not in " ".join(known["calendar_notes"])
    login(client, hq.user.username)
    page = client.get("/console/service/reports", params=params)
    assert page.status_code == 200
    assert f"Holidays for {year} are not known: Monday to Friday assumed for its SLA clocks." in page.text
    assert "/api/v1/service/reports/sla/export?format=xlsx&amp;since=" in page.text
