"""Signing places: the province and city a carrier's place text names (广东省深圳市南山区, 深圳市,
上海), and whether a parcel signed there was signed inside the dealer's authorised area (its
province and city in the master data)."""
from __future__ import annotations

import re

# The provincial-level divisions, by the short name their full names start with.
PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
             "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
             "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")
MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_SUFFIX = re.compile(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)$")
_CITY = re.compile(r"([\u4e00-\u9fff]{2,8}?)(市|地区|自治州|盟)")


def short(name: str | None) -> str:
    """广东省 → 广东, 深圳市 → 深圳, 内蒙古自治区 → 内蒙古."""
    name = (name or "").strip()
    return _SUFFIX.sub("", name) or name


def parse(place: str | None) -> tuple[str | None, str | None]:
    """(province, city) by their short names; None for what the text does not name."""
    text = (place or "").strip()
    if not text:
        return None, None
    province = next((p for p in PROVINCES if text.startswith(p)), None)
    rest = text
    if province:
        rest = re.sub(r"^" + province + r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)?", "", text)
        if province in MUNICIPALITIES:
            return province, province
    m = _CITY.match(rest)
    city = m.group(1) if m else None
    return province, city


def outside(place: str | None, *, province: str | None, city: str | None) -> bool | None:
    """Whether a parcel signed at `place` was signed outside a dealer's province and city. None when
    it cannot be told: no place, a dealer without a province or city, or a place naming neither
    a province nor a city. A place naming only a city is judged by the dealer's city."""
    signed_province, signed_city = parse(place)
    dealer_province, dealer_city = short(province) or None, short(city) or None
    if signed_province and dealer_province:
        if signed_province != dealer_province:
            return True
        if dealer_city and signed_city and signed_province not in MUNICIPALITIES:
            return signed_city != dealer_city
        return False
    if signed_city and dealer_city:
        return signed_city != dealer_city
    return None
