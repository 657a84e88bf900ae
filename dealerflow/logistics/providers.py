"""Tracking providers: where carriers' events come from. An aggregator (快递鸟, 快递100) is
subscribed a waybill with our callback URL and pushes its track, signed with the secret it shares
with us; a provider without pushes is polled. Both answer the same shapes (`Track`), so ingestion
(dealerflow/logistics/tracking.py) does not care how a track arrived.

The push shape is 快递鸟's (RequestType 101): a form with `RequestData` (JSON: `Data`, a list of
waybills, each with `ShipperCode`, `LogisticCode`, a status code `State`/`StateEx`, `Location` and
`Traces`: events with `AcceptTime`, `AcceptStation` (the text), `Location` and `Action` (the event's
code)) and `DataSign` = base64(md5(RequestData + secret)); 快递100's `param`/`sign` push is read
into the same tracks. The signature is checked before anything of the body is read.

`FixtureProvider` speaks the same shape with its own secret and makes deterministic tracks (the
demo and the tests drive parcels with it); it can also be polled."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping, Protocol, Sequence
from urllib.parse import parse_qs, urlencode

from dealerflow.core.errors import Invalid, NotFound, Unauthenticated, Unsupported
from dealerflow.shared.accounts import CHINA

MAX_PUSH = 2 * 1024 * 1024
MAX_TRACKS = 1000  # waybills in one push
MAX_EVENTS = 500  # events of one waybill
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")


@dataclass(frozen=True)
class Event:
    at: datetime
    code: str
    text: str
    place: str


@dataclass(frozen=True)
class Track:
    carrier: str
    waybill: str
    code: str  # the waybill's status code as the provider sent it
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Push:
    provider: str
    body: str  # as received, kept append-only once its signature held
    tracks: tuple[Track, ...] = ()
    malformed: str | None = None  # signed but not readable: kept, refused, nothing else stored
    problems: list = field(default_factory=list)  # tracks left out, each with its index and reason


@dataclass(frozen=True)
class Subscribed:
    """A parcel as a provider is asked about it."""
    carrier: str
    waybill: str
    shipped_at: datetime
    place: str  # where it goes (the dealer's province and city)


class Provider(Protocol):
    name: str

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> Push:
        """Check the push's signature (Unauthenticated when it does not hold), then read it."""

    def poll(self, parcels: Sequence[Subscribed], *, now: datetime) -> list[Track]:
        """The current tracks of these parcels (Unsupported for a provider that only pushes)."""


def sign(request_data: str, secret: str) -> str:
    return base64.b64encode(hashlib.md5((request_data + secret).encode()).hexdigest().encode()).decode()


def _time(raw) -> datetime:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("AcceptTime: required")
    raw = raw.strip()
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        at = None
        for fmt in TIME_FORMATS:
            try:
                at = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        if at is None:
            raise ValueError(f"AcceptTime: {raw[:40]!r} is not a time like 2026-12-02 08:30:00") from None
    return at if at.tzinfo else at.replace(tzinfo=CHINA)  # carriers write China time


def _text(raw, limit: int, name: str, *, required: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, (str, int)):
        raise ValueError(f"{name}: expected text")
    value = str(raw).strip()
    if required and not value:
        raise ValueError(f"{name}: required")
    return value[:limit]


def read_tracks(data) -> tuple[list[Track], list[dict]]:
    """The tracks of a RequestData object, and the problems of those left out (by index)."""
    if not isinstance(data, dict) or not isinstance(data.get("Data"), list):
        raise ValueError("RequestData: expected an object with a Data list")
    items = data["Data"]
    if len(items) > MAX_TRACKS:
        raise ValueError(f"RequestData.Data: at most {MAX_TRACKS} waybills a push, got {len(items)}")
    tracks, problems = [], []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError("expected an object")
            carrier = _text(item.get("ShipperCode"), 32, "ShipperCode", required=True)
            waybill = _text(item.get("LogisticCode"), 64, "LogisticCode", required=True)
            traces = item.get("Traces") or []
            if not isinstance(traces, list) or len(traces) > MAX_EVENTS:
                raise ValueError(f"Traces: expected a list of at most {MAX_EVENTS} events")
            events = []
            for t in traces:
                if not isinstance(t, dict):
                    raise ValueError("Traces: expected objects")
                events.append(Event(_time(t.get("AcceptTime")), _text(t.get("Action"), 16, "Action"),
                                    _text(t.get("AcceptStation"), 500, "AcceptStation"),
                                    _text(t.get("Location"), 200, "Location")))
            code = _text(item.get("StateEx") or item.get("State"), 16, "State")
            tracks.append(Track(carrier, waybill, code, tuple(events)))
        except ValueError as e:
            problems.append({"index": i, "message": str(e)})
    return tracks, problems


class AggregatorProvider:
    """A push aggregator (快递鸟's RequestType 101 shape). Its secret comes from the settings
    (DEALERFLOW_LOGISTICS_SECRETS); without one every push is refused."""

    def __init__(self, name: str, secret: str | None):
        self.name, self.secret = name, secret

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> Push:
        if len(body) > MAX_PUSH:
            raise Unauthenticated("push refused: larger than any provider sends")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            form = {}
        request_data = (form.get("RequestData") or [""])[0]
        signature = (form.get("DataSign") or [""])[0]
        if not self.secret or not request_data or not signature or not hmac.compare_digest(
                signature.encode(), sign(request_data, self.secret).encode()):
            raise Unauthenticated("push refused: the signature does not hold")
        try:
            tracks, problems = read_tracks(json.loads(request_data))
        except (ValueError, RecursionError) as e:
            return Push(self.name, request_data, malformed=str(e)[:300])
        return Push(self.name, request_data, tuple(tracks), problems=problems)

    def poll(self, parcels: Sequence[Subscribed], *, now: datetime) -> list[Track]:
        raise Unsupported(f"{self.name} pushes its tracks: subscribe the waybills with the callback URL")


class Kuaidi100Provider(AggregatorProvider):
    """快递100's push: form fields `param` (JSON: `lastResult` with `com`, `nu`, `state` and `data`,
    events with `context`, `ftime`/`time`, `areaName`, `status`) and `sign` = MD5(param + salt) in
    upper case. One waybill a push."""

    # Its event status words → the aggregator codes normalise.py reads.
    STATUS = {"揽收": "1", "在途": "2", "转投": "2", "清关": "2", "派件": "202", "签收": "3", "疑难": "4",
              "退签": "404", "拒签": "404", "退回": "406"}

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> Push:
        if len(body) > MAX_PUSH:
            raise Unauthenticated("push refused: larger than any provider sends")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
        except (UnicodeDecodeError, ValueError):
            form = {}
        param, signature = (form.get("param") or [""])[0], (form.get("sign") or [""])[0]
        expected = hashlib.md5((param + (self.secret or "")).encode()).hexdigest().upper()
        if not self.secret or not param or not hmac.compare_digest(signature.upper().encode(), expected.encode()):
            raise Unauthenticated("push refused: the signature does not hold")
        try:
            result = json.loads(param).get("lastResult")
            if not isinstance(result, dict):
                raise ValueError("param: expected lastResult")
            data = {"Data": [{"ShipperCode": result.get("com"), "LogisticCode": result.get("nu"),
                              "State": str(result.get("state") or ""),
                              "Traces": [{"AcceptTime": e.get("ftime") or e.get("time"),
                                          "AcceptStation": e.get("context"),
                                          "Location": e.get("areaName") or "",
                                          "Action": self.STATUS.get(str(e.get("status") or ""), "")}
                                         for e in (result.get("data") or []) if isinstance(e, dict)]}]}
            tracks, problems = read_tracks(data)
        except (ValueError, AttributeError, TypeError, RecursionError) as e:
            return Push(self.name, param, malformed=str(e)[:300])
        return Push(self.name, param, tuple(tracks), problems=problems)


# --- the fixture provider: deterministic tracks for the tests and the demo ------------------------

# (hours after shipping, code, text, where: origin | hub | destination)
ROUTE = ((0, "1", "快件已揽收", "origin"), (5, "2", "快件已发往转运中心", "origin"),
         (14, "2", "快件到达转运中心", "hub"), (22, "201", "快件已到达派件城市", "destination"),
         (27, "202", "快递员正在派件", "destination"), (30, "301", "已签收，签收人：本人", "destination"))
ORIGIN, HUB = "浙江省杭州市", "江苏省苏州市"


class FixtureProvider(AggregatorProvider):
    """Signs and reads like an aggregator; `track` makes the same track for the same parcel and time
    (30 hours from pickup to signing), `push` signs a push of tracks for the webhook."""

    def __init__(self, secret: str):
        super().__init__("fixture", secret)

    def track(self, parcel: Subscribed, *, now: datetime, signed_at: str | None = None) -> Track:
        """The parcel's track as of `now`; `signed_at` overrides the place it is signed at."""
        places = {"origin": ORIGIN, "hub": HUB, "destination": parcel.place or "上海市"}
        events = []
        for hours, code, text, where in ROUTE:
            at = parcel.shipped_at + timedelta(hours=hours)
            if at > now:
                break
            place = signed_at if (code == "301" and signed_at) else places[where]
            events.append(Event(at.astimezone(CHINA).replace(microsecond=0), code, f"【{place}】{text}", place))
        code = events[-1].code if events else "0"
        return Track(parcel.carrier, parcel.waybill, code, tuple(events))

    def poll(self, parcels: Sequence[Subscribed], *, now: datetime) -> list[Track]:
        return [self.track(p, now=now) for p in parcels]

    def push(self, tracks: Sequence[Track]) -> tuple[bytes, dict]:
        """A signed push of these tracks: (form body, headers), as the aggregator would send it."""
        data = {"EBusinessID": "fixture", "PushTime": datetime.now(CHINA).strftime(TIME_FORMATS[0]),
                "Count": str(len(tracks)), "Data": [
                    {"EBusinessID": "fixture", "ShipperCode": t.carrier, "LogisticCode": t.waybill, "Success": True,
                     "State": t.code[:1] or "0", "StateEx": t.code,
                     "Location": t.events[-1].place if t.events else "",
                     "Traces": [{"AcceptTime": e.at.astimezone(CHINA).strftime(TIME_FORMATS[0]),
                                 "AcceptStation": e.text, "Location": e.place, "Action": e.code}
                                for e in t.events]} for t in tracks]}
        request_data = json.dumps(data, ensure_ascii=False)
        body = urlencode({"RequestData": request_data, "DataSign": sign(request_data, self.secret),
                          "RequestType": "101"}).encode()
        return body, {"Content-Type": "application/x-www-form-urlencoded"}


PUSH_PROVIDERS = ("kdniao",)  # 快递鸟's shape; any other name given a secret speaks it too (快递100: its own)


def fixture_secret(secret_key: str) -> str:
    """The fixture provider's secret when the settings give none: derived from the installation's key."""
    return hmac.new(secret_key.encode(), b"logistics:fixture", hashlib.sha256).hexdigest()


def providers(*, secrets: Mapping[str, str], secret_key: str) -> dict[str, AggregatorProvider]:
    out: dict[str, AggregatorProvider] = {name: AggregatorProvider(name, secrets.get(name))
                                          for name in (*PUSH_PROVIDERS, *secrets)}
    out["kuaidi100"] = Kuaidi100Provider("kuaidi100", secrets.get("kuaidi100"))
    out["fixture"] = FixtureProvider(secrets.get("fixture") or fixture_secret(secret_key))
    return out


def provider(name: str, *, secrets: Mapping[str, str], secret_key: str) -> AggregatorProvider:
    found = providers(secrets=secrets, secret_key=secret_key).get(name)
    if found is None:
        raise NotFound(f"unknown tracking provider {name[:40]!r}")
    return found


def check_carrier_waybill(carrier: str, waybill: str) -> None:
    """Codes as carriers print them: letters, digits and dashes."""
    for name, value, limit in (("carrier", carrier, 32), ("waybills", waybill, 64)):
        if not value or len(value) > limit or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
            raise Invalid(f"{value[:70]!r}: letters, digits, - and _ only, 1 to {limit} characters", field=name)
