"""The console in Chinese first and English second: the catalogs are complete, a page speaks the
language the user chose (cookie) or the browser asks for (Accept-Language), zh-CN otherwise; amounts,
times and capitals in local formats; dealers read decisions in business words; phones get cards."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from api.pages import templates

from .support import PASSWORD, send_csrf, wait_until

ROOT = Path(__file__).parent.parent
TRANSLATIONS = ROOT / "api" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalog(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def test_every_text_of_the_console_has_a_chinese_translation(tmp_path):
    # The texts as they stand in the templates and the code (not only the committed .pot).
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
                   cwd=ROOT, check=True)
    with open(pot, "rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with open(TRANSLATIONS / "messages.pot", "rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    zh = {m.id: m.string for m in catalog("zh_CN") if m.id}
    assert len(wanted) > 400
    assert wanted <= committed, f"run `make messages`: {sorted(wanted - committed)[:10]}"
    missing = sorted(str(m) for m in committed if not (zh.get(m) if isinstance(m, str) else all(zh.get(m) or [""])))
    assert not missing, f"untranslated in zh_CN: {missing[:10]}"
    for msgid, text in zh.items():
        # A plural message: Chinese has one form, with the placeholders of the plural one.
        msgid, text = (msgid[-1], text[0]) if isinstance(msgid, tuple) else (msgid, text)
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid
    assert zh["Statements"] == "对账单" and zh["Rebates"] == "返利" and zh["Inbox"] == "待办"


def test_local_formats_in_each_language():
    zh, en = templates.by_locale["zh_CN"].env, templates.by_locale["en"].env
    at = datetime(2025, 6, 30, 16, 5, tzinfo=timezone.utc)  # 00:05 the next day in Beijing
    assert zh.from_string("{{ v|money }}").render(v="1234567.5") == "¥1,234,567.50"
    assert en.from_string("{{ v|money }}").render(v="1234567.5") == "¥1,234,567.50"
    assert zh.from_string("{{ v|when }}").render(v=at) == "2025-07-01 00:05"
    assert zh.from_string("{{ v|when(zone=True) }}").render(v=at.isoformat()) == "2025-07-01 00:05 (北京时间)"
    assert en.from_string("{{ v|when(zone=True) }}").render(v=at) == "2025-07-01 00:05 (Beijing time)"
    assert zh.from_string("{{ v|day }}").render(v="2025-07-01") == "2025年7月1日"
    assert zh.from_string("{{ v|pct }}").render(v="0.5") == "50.0%"
    assert zh.from_string("{{ v|number }}").render(v=12345) == "12,345"
    assert zh.from_string("{{ v|capitals }}").render(v="3960.00") == "叁仟玖佰陆拾元整"
    assert zh.from_string("{{ v|money }}{{ w|money }}").render(v=None) == ""  # none and undefined: nothing
    # One environment per locale, each with its own catalog: nothing shared to mix languages.
    assert zh.from_string('{{ _("Orders") }}').render() == "订单" and en.from_string('{{ _("Orders") }}').render() == "Orders"
    assert zh.from_string('{{ "pending_review"|label }}').render() == "待审核"


def browser(client: TestClient, **headers) -> TestClient:
    """A client of the same app without the suite's English default: a browser as it comes."""
    return TestClient(client.app, headers=headers)


def test_zh_cn_by_default_english_when_asked_and_the_choice_is_remembered(client):
    c = browser(client)
    page = c.get("/console/login")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and page.headers["content-language"] == "zh-CN"
    assert "<h1>登录</h1>" in page.text and "用户名" in page.text and "Log in" not in page.text
    assert 'href="/console/language?lang=en&amp;next=/console/login"' in page.text
    english = browser(client, **{"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}).get("/console/login")
    assert '<html lang="en">' in english.text and "<h1>Log in</h1>" in english.text
    assert "<h1>登录</h1>" in browser(client, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get("/console/login").text
    # The switch in the header: a cookie for a year, back to the page; it beats Accept-Language.
    r = c.get("/console/language", params={"lang": "en", "next": "/console/login"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert "dealerflow_lang=en" in r.headers["set-cookie"] and "Max-Age=31536000" in r.headers["set-cookie"]
    assert "<h1>Log in</h1>" in c.get("/console/login").text
    back = c.get("/console/language", params={"lang": "zh_CN", "next": "https://elsewhere.example/"},
                 follow_redirects=False)
    assert back.headers["location"] == "/console"  # only to the console's own pages
    assert "<h1>登录</h1>" in c.get("/console/login", headers={"Accept-Language": "en"}).text
    send_csrf(c)
    bad = c.post("/console/login", data={"username": "nobody", "password": "x"})
    assert bad.status_code == 401 and "用户名或密码错误。" in bad.text


def test_a_dealer_reads_orders_in_chinese_with_yuan_beijing_time_and_business_words(client, make_dealer, product):
    dealer, other = make_dealer(), make_dealer()
    c = browser(client)
    send_csrf(c)
    assert c.post("/console/login", data={"username": dealer.user.username, "password": PASSWORD},
                  follow_redirects=False).status_code == 303
    r = c.post("/console/orders", data={"sku": product.sku, "quantity": "3"}, follow_redirects=False)
    assert r.status_code == 303
    page = wait_until(lambda: (p := c.get(r.headers["location"])) and "信用审批" in p.text and p)
    assert '<html lang="zh-CN">' in page.text and "¥300.00" in page.text and "自动审批通过：在信用额度内。" in page.text
    assert "approve-within-headroom" not in page.text and "所用数据" not in page.text and "rules/" not in page.text
    listing = c.get("/console/orders")
    assert "<h1>订单</h1>" in listing.text and 'data-label="金额"' in listing.text and "¥300.00" in listing.text
    assert "系统自动审批" in listing.text and "approve-within-headroom" not in listing.text
    # A refusal a browser sees is a page in its language, not JSON.
    theirs = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                         headers=other.headers).json()
    missing = c.get(f"/console/orders/{theirs['id']}", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "未找到该订单" in missing.text and '<html lang="zh-CN">' in missing.text
    forbidden = c.get("/console/settlements", headers={"Accept": "text/html"})
    assert forbidden.status_code == 403 and "需要以下角色：finance or hq or admin" in forbidden.text
    assert c.get(f"/console/orders/{theirs['id']}").headers["content-type"].startswith("application/problem+json")


def test_pages_fit_a_phone():
    css = (ROOT / "api" / "static" / "console.css").read_text()
    assert "@media (max-width: 720px)" in css and "td[data-label]::before" in css and "min-height: 44px" in css
    assert ".menu-toggle:checked ~ .menu" in css
    for page in (ROOT / "api" / "templates").glob("*.html"):
        text = re.sub(r'<table class="figures">.*?</table>', "", page.read_text(), flags=re.S)  # tables in a cell
        for table in re.findall(r'<table class="cards">.*?</table>', text, re.S):
            for cell in re.findall(r"<td(?![^>]*colspan)[^>]*>", table):
                assert "data-label=" in cell or "<form" in table, (page.name, cell)
