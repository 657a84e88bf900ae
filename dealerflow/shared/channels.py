"""External notification channels people in China use, behind the outbox of notifications.py: a WeCom
(企业微信) group robot and application messages to a person, a DingTalk (钉钉) group robot with its
signed URL, and SMS through a provider.

Each `deliver`s a batch of deliveries and answers, per delivery, None or the error (a ChannelError
marked permanent for a data error, which is not retried). The robots post the notifications meant for
staff (a role or a user) to their group as markdown, in as few messages as their size limits allow;
SMS and WeCom application messages go to the address the outbox chose for each person.

WeCom: POST {"msgtype": "markdown", "markdown": {"content": …}} to the robot's webhook
(https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…), content at most 4096 bytes, answered with
{"errcode": 0, "errmsg": "ok"}. DingTalk: POST {"msgtype": "markdown", "markdown": {"title", "text"}}
to https://oapi.dingtalk.com/robot/send?access_token=… with `timestamp` (milliseconds) and `sign` =
URL-encoded Base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed with the secret; answered likewise."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import urllib.parse
from typing import Callable, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dealerflow.models import Dealer, User
from dealerflow.shared.notifications import DeliveryError, Item, Message

PHONE = re.compile(r"^1[3-9]\d{9}$")
WECOM_LIMIT = 4096  # bytes of markdown content
DINGTALK_LIMIT = 18000  # bytes of markdown text (the robot refuses 20000)


class ChannelError(DeliveryError):
    """The channel refused a message: retried with backoff unless `permanent` (a data error)."""


# errcodes that say "try again later": system busy, frequency limits, an expired access token.
TRANSIENT_ERRCODES = {-1, 45009, 45033, 42001, 40014, 130101, 660026}


def _line(m: Message, base_url: str) -> str:
    link = f" [→]({base_url.rstrip('/')}{m.link})" if m.link and base_url else ""
    body = f"\n> {m.body}" if m.body else ""
    return f"**{m.title}**{link}{body}"


def _chunks(lines: list[str], limit: int, header: str = "") -> list[str]:
    """Lines joined into texts of at most `limit` UTF-8 bytes (a longer line is cut)."""
    out, current = [], header
    for line in lines:
        line = line.encode()[:limit - len(header.encode()) - 2].decode("utf-8", "ignore")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit and current != header:
            out.append(current)
            candidate = f"{header}\n{line}" if header else line
        current = candidate
    if current and current != header:
        out.append(current)
    return out


def _answered(response: httpx.Response, who: str) -> dict:
    response.raise_for_status()
    try:
        data = response.json()
    except ValueError:
        raise ChannelError(f"{who}: not a JSON answer") from None
    if data.get("errcode") != 0:
        raise ChannelError(f"{who}: errcode {data.get('errcode')}: {data.get('errmsg')}",
                           permanent=data.get("errcode") not in TRANSIENT_ERRCODES)
    return data


def for_staff(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role is not None or m.user_id is not None]


def _by_chunk(items: list[Item], render: Callable[[Message], str], limit: int,
              post: Callable[[str, list[Item]], None]) -> dict[int, Exception | None]:
    """A robot's deliveries in texts of at most `limit` bytes; each text's outcome is its items'."""
    out: dict[int, Exception | None] = {}
    group: list[Item] = []
    size = 0
    for item in items + [None]:
        line = render(item.message).encode()[:limit - 2].decode("utf-8", "ignore") if item else ""
        if group and (item is None or size + len(line.encode()) + 1 > limit):
            text = "\n".join(render(i.message).encode()[:limit - 2].decode("utf-8", "ignore") for i in group)
            try:
                post(text, group)
                out |= {i.delivery_id: None for i in group}
            except Exception as e:  # noqa: BLE001 - recorded per delivery
                out |= {i.delivery_id: e for i in group}
            group, size = [], 0
        if item is not None:
            group.append(item)
            size += len(line.encode()) + 1
    return out


class WeComRobotChannel:
    name = "wecom"
    accepts = staticmethod(lambda m: m.role is not None or m.user_id is not None)

    def __init__(self, webhook_url: str, *, base_url: str = "", timeout: float = 10.0,
                 client: httpx.Client | None = None):
        self.url, self.base_url, self.timeout = webhook_url, base_url, timeout
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, messages: list[Message]) -> None:
        for content in _chunks([_line(m, self.base_url) for m in for_staff(messages)], WECOM_LIMIT):
            _answered(self.client.post(self.url, json={"msgtype": "markdown", "markdown": {"content": content}}),
                      "WeCom robot")

    def deliver(self, items: list[Item]) -> dict[int, Exception | None]:
        return _by_chunk(items, lambda m: _line(m, self.base_url), WECOM_LIMIT, lambda content, _: _answered(
            self.client.post(self.url, json={"msgtype": "markdown", "markdown": {"content": content}}), "WeCom robot"))


def dingtalk_signed(url: str, secret: str, now_ms: int | None = None) -> str:
    """The robot's URL with `timestamp` and `sign` (HMAC-SHA256 of "timestamp\\nsecret", Base64, URL-encoded)."""
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


class DingTalkRobotChannel:
    name = "dingtalk"
    accepts = staticmethod(lambda m: m.role is not None or m.user_id is not None)

    def __init__(self, webhook_url: str, secret: str, *, base_url: str = "", timeout: float = 10.0,
                 client: httpx.Client | None = None, clock: Callable[[], int] | None = None):
        self.url, self.secret, self.base_url = webhook_url, secret, base_url
        self.client = client or httpx.Client(timeout=timeout)
        self.clock = clock or (lambda: int(time.time() * 1000))

    def send(self, messages: list[Message]) -> None:
        staff = for_staff(messages)
        for text in _chunks([_line(m, self.base_url) for m in staff], DINGTALK_LIMIT):
            title = staff[0].title[:64] if len(staff) == 1 else f"dealerflow: {len(staff)} notifications"
            _answered(self.client.post(dingtalk_signed(self.url, self.secret, self.clock()),
                                       json={"msgtype": "markdown", "markdown": {"title": title, "text": text}}),
                      "DingTalk robot")

    def deliver(self, items: list[Item]) -> dict[int, Exception | None]:
        def post(text: str, group: list[Item]) -> None:
            title = group[0].message.title[:64] if len(group) == 1 else f"dealerflow: {len(group)} notifications"
            _answered(self.client.post(dingtalk_signed(self.url, self.secret, self.clock()),
                                       json={"msgtype": "markdown", "markdown": {"title": title, "text": text}}),
                      "DingTalk robot")
        return _by_chunk(items, lambda m: _line(m, self.base_url), DINGTALK_LIMIT, post)


class SmsProvider(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Send one text or raise."""


class HttpSmsProvider:
    """An SMS gateway that takes {"phone", "text", "sign"} as JSON with a bearer token and answers 2xx."""

    def __init__(self, url: str, *, token: str | None = None, sign: str = "dealerflow", timeout: float = 10.0,
                 client: httpx.Client | None = None):
        self.url, self.sign = url, sign
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, phone: str, text: str) -> None:
        self.client.post(self.url, json={"phone": phone, "text": text, "sign": self.sign},
                         headers=self.headers).raise_for_status()


def sms_text(m: Message) -> str:
    return f"【dealerflow】{m.title}" + (f" {m.body}" if m.body else "")[:300]


class SmsChannel:
    """One text per delivery, to the address the outbox chose for it (a person's number or the
    dealer's contact phone: recipients.py). `send` (a batch without deliveries) maps it to
    {notification id: phone} with `phones`; notifications addressed to a role are left to the robots."""
    name = "sms"
    personal = True

    def __init__(self, provider: SmsProvider, phones: Callable[[list[Message]], dict[int, str]] | None = None):
        self.provider, self.phones = provider, phones

    def deliver(self, items: list[Item]) -> dict[int, Exception | None]:
        out: dict[int, Exception | None] = {}
        for item in items:
            try:
                if not PHONE.match(item.address):
                    raise ChannelError(f"not a mobile number: {item.address!r}", permanent=True)
                self.provider.send(item.address, sms_text(item.message))
                out[item.delivery_id] = None
            except Exception as e:  # noqa: BLE001 - recorded per delivery
                out[item.delivery_id] = e
        return out

    def send(self, messages: list[Message]) -> None:
        phones = self.phones(messages) if self.phones else {}
        for m in messages:
            if m.id in phones:
                self.provider.send(phones[m.id], sms_text(m))


def phones_from(sessions: sessionmaker[Session]) -> Callable[[list[Message]], dict[int, str]]:
    """{notification id: phone} of a batch: a dealer's contact phone, or the user's phone."""
    def phones(messages: list[Message]) -> dict[int, str]:
        dealers = {m.dealer_id for m in messages if m.dealer_id}
        users = {m.user_id for m in messages if m.user_id}
        with sessions() as s:
            by_dealer = dict(s.execute(select(Dealer.id, Dealer.contact_phone).where(
                Dealer.id.in_(dealers), Dealer.contact_phone.is_not(None))).all()) if dealers else {}
            by_user = dict(s.execute(select(User.id, User.phone).where(
                User.id.in_(users), User.phone.is_not(None))).all()) if users else {}
        out = {}
        for m in messages:
            phone = by_dealer.get(m.dealer_id) if m.dealer_id else by_user.get(m.user_id)
            if phone:
                out[m.id] = phone
        return out
    return phones


class WeComAppChannel:
    """WeCom application messages (企业微信应用消息) to each person's WeCom userid. As documented:
    GET /cgi-bin/gettoken?corpid=…&corpsecret=… answers {"errcode": 0, "access_token", "expires_in"}
    (kept until shortly before it expires, fetched again when the API says it expired: 40014/42001);
    POST /cgi-bin/message/send?access_token=… with {"touser": "a|b", "msgtype": "textcard", "agentid",
    "textcard": {"title", "description", "url", "btntxt"}} — or "text" with {"content"} when there is no
    link — answers {"errcode": 0, "invaliduser": "b"}: a userid listed there is a bad address."""
    name = "wecom_app"
    personal = True

    def __init__(self, corp_id: str, secret: str, agent_id: int, *, api_url: str = "https://qyapi.weixin.qq.com",
                 base_url: str = "", timeout: float = 10.0, client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.api, self.base_url, self.clock = api_url.rstrip("/"), base_url.rstrip("/"), clock
        self.client = client or httpx.Client(timeout=timeout)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def token(self, *, fresh: bool = False) -> str:
        with self._lock:
            if fresh or self._token is None or self.clock() >= self._token[1]:
                data = _answered(self.client.get(f"{self.api}/cgi-bin/gettoken",
                                                 params={"corpid": self.corp_id, "corpsecret": self.secret}),
                                 "WeCom gettoken")
                self._token = (data["access_token"], self.clock() + int(data.get("expires_in", 7200)) - 300)
            return self._token[0]

    def payload(self, m: Message, users: list[str]) -> dict:
        body = {"touser": "|".join(users), "agentid": self.agent_id, "safe": 0}
        if m.link and self.base_url:
            return body | {"msgtype": "textcard", "textcard": {
                "title": m.title[:128], "description": (m.body or m.title)[:512],
                "url": f"{self.base_url}{m.link}", "btntxt": "详情"}}
        return body | {"msgtype": "text", "text": {"content": (m.title + (f"\n{m.body}" if m.body else ""))[:2000]}}

    def _post(self, payload: dict) -> dict:
        for fresh in (False, True):
            try:
                return _answered(self.client.post(f"{self.api}/cgi-bin/message/send",
                                                  params={"access_token": self.token(fresh=fresh)}, json=payload),
                                 "WeCom message/send")
            except ChannelError as e:
                if fresh or not any(f"errcode {c}:" in str(e) for c in (40014, 42001)):
                    raise
        raise AssertionError("unreachable")

    def deliver(self, items: list[Item]) -> dict[int, Exception | None]:
        """One message/send per notification to all its userids (at most 1000 a call)."""
        out: dict[int, Exception | None] = {}
        by_message: dict[int, list[Item]] = {}
        for item in items:
            by_message.setdefault(item.message.id, []).append(item)
        for group in by_message.values():
            for i in range(0, len(group), 1000):
                part = group[i:i + 1000]
                try:
                    answer = self._post(self.payload(part[0].message, [x.address for x in part]))
                except Exception as e:  # noqa: BLE001 - recorded per delivery
                    out |= {x.delivery_id: e for x in part}
                    continue
                invalid = set(filter(None, (answer.get("invaliduser") or "").split("|")))
                for x in part:
                    out[x.delivery_id] = (ChannelError(f"WeCom: invalid userid {x.address!r}", permanent=True)
                                          if x.address in invalid else None)
        return out
