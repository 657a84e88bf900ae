"""The console's languages and local formats. zh-CN first, English second: a user's choice is kept in
a cookie, else the browser's Accept-Language decides. One Jinja2 environment per locale, each with
its own gettext catalog installed, so concurrent requests never mix languages. Money is shown as
¥1,234,567.50, times in the business time zone (Asia/Shanghai unless configured), amounts in
Chinese capitals (大写) where a statement needs them.

Catalogs: `api/translations/<locale>/LC_MESSAGES/messages.po` (English msgids), extracted with
`pybabel extract -F babel.cfg` and compiled to `.mo` by `make install`."""
from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import cn2an
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations
from fastapi import Request

LOCALES = ("zh_CN", "en")  # the first is the default
COOKIE = "dealerflow_lang"
TRANSLATIONS = Path(__file__).parent / "translations"
TIME_ZONE = ZoneInfo(os.environ.get("DEALERFLOW_TIME_ZONE", "Asia/Shanghai"))


def locale_of(request: Request) -> str:
    """The locale of a request: the user's choice (cookie), else the browser's, else zh-CN."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LOCALES:
        return chosen
    return from_header(request.headers.get("accept-language", ""))


def from_header(header: str) -> str:
    """The first language of Accept-Language, by weight, that the console speaks."""
    weighted = []
    for n, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        weighted.append((-q, n, tag.strip().lower()))
    for _, _, tag in sorted(weighted):
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return LOCALES[0]


@lru_cache(maxsize=None)
def translations(locale: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [locale])


def money(value, locale: str, *, currency: str = "CNY") -> str:
    """¥1,234,567.50 (the yen sign alone in both languages: every amount here is in yuan)."""
    if value is None or value == "":
        return ""
    return format_currency(Decimal(str(value)), currency, format="¤#,##0.00", locale=locale,
                           currency_digits=False).replace("CN¥", "¥")


def number(value, locale: str) -> str:
    if value is None or value == "":
        return ""
    return format_decimal(Decimal(value) if isinstance(value, str) else value, locale=locale)


def percent(value, locale: str) -> str:
    return "" if value is None else format_percent(Decimal(str(value)), format="#,##0.0%", locale=locale)


def when(value, locale: str, *, zone: bool = False) -> str:
    """A time in the business time zone; `zone=True` shows it (for times people act on)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        text = format_datetime(value, "yyyy-MM-dd HH:mm", tzinfo=TIME_ZONE, locale=locale)
        return f"{text} ({_zone_label(locale)})" if zone else text
    return day(value, locale)


def day(value, locale: str) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(TIME_ZONE).date()
    return format_date(value, "long" if locale.startswith("zh") else "medium", locale=locale)


def _zone_label(locale: str) -> str:
    if str(TIME_ZONE) == "Asia/Shanghai":
        return "北京时间" if locale.startswith("zh") else "Beijing time"
    return str(TIME_ZONE)


def capitals(value) -> str:
    """An amount in Chinese capitals, as on a statement: 壹佰贰拾叁元伍角."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    words = cn2an.an2cn(str(abs(amount)), "rmb")  # ends in 整 for whole yuan
    return ("负" if amount < 0 else "") + words


def html_lang(locale: str) -> str:
    """The BCP 47 tag of a locale, for `<html lang>` and Content-Language: zh-CN, en."""
    return locale.replace("_", "-")


def language_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(locale)
