"""Carriers' tracking codes and texts → the parcel states the platform speaks: in transit, at the
destination city, out for delivery, signed, exception, returned.

Aggregators send a numeric action per event (快递鸟: 2 在途, 201 到达派件城市, 202 派件中, 3/301… 签收,
4/40x 问题件, 404/406/407 退回); an event without a known code is read from its text."""
from __future__ import annotations

import re

STATES = ("in_transit", "at_destination_city", "out_for_delivery", "signed", "exception", "returned")

CODES = {
    "0": "in_transit", "1": "in_transit", "2": "in_transit",  # 暂无轨迹信息, 已揽收, 在途中
    "201": "at_destination_city", "202": "out_for_delivery", "211": "out_for_delivery",  # 派件中, 已放入快递柜或驿站
    "3": "signed", "301": "signed", "302": "signed", "304": "signed", "311": "signed",
    "4": "exception", "401": "exception", "402": "exception", "403": "exception", "405": "exception",
    "412": "exception",
    "404": "returned", "406": "returned", "407": "returned",  # 拒收(退件), 退货签收, 退货未签收
}

# Read from the text, in this order: a refusal or return before a signing, a signing before a delivery round.
_TEXTS = (
    ("returned", re.compile(r"拒收|拒签|退回|退件|退签|返回寄件|return", re.I)),
    ("signed", re.compile(r"签收|已取件|代收|delivered|signed", re.I)),
    ("out_for_delivery", re.compile(r"派件|派送|投递|快递柜|驿站|out for delivery", re.I)),
    ("exception", re.compile(r"异常|疑难|问题件|滞留|破损|exception", re.I)),
    ("at_destination_city", re.compile(r"到达.{0,12}(目的|派件城市|派送城市)|arrived at destination", re.I)),
)


def state_of(code: str | None, text: str) -> str:
    """The state of one event: by its code when known, else by its text; in transit by default."""
    state = CODES.get((code or "").strip())
    if state:
        return state
    for name, pattern in _TEXTS:
        if pattern.search(text or ""):
            return name
    return "in_transit"
