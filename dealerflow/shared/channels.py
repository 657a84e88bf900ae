"""External notification channels people in China use, behind the outbox of notifications.py: a WeCom
(企业微信) group robot, a DingTalk (钉钉) group robot with its signed URL, and SMS through a provider.

Each takes a batch of unsent notifications and delivers it or raises; a raised batch stays unsent and
the next run sends it again. The robots post the notifications meant for staff (a role or a user)
to their group as markdown, in as few messages as their size limits allow; SMS goes to the phone of
the dealer's contact or of the user a notification is for.

WeCom: POST {"msgtype": "markdown", "markdown": {"content": …}} to the robot's webhook
(https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…), content at most 4096 bytes, answered with
{"errcode": 0, "errmsg": "ok"}. DingTalk: POST {"msgtype": "markdown", "markdown": {"title", "text"}}
to https://oapi.dingtalk.com/robot/send?access_token=… with `timestamp` (milliseconds) and `sign` =
URL-encoded Base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed with the secret; answered likewise."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Callable, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dealerflow.models import Dealer, User
from dealerflow.shared.notifications import Message

WECOM_LIMIT = 4096  # bytes of markdown content
DINGTALK_LIMIT = 18000  # bytes of markdown text (the robot refuses 20000)


class ChannelError(Exception):
    """The channel refused a batch: it stays unsent and is sent again."""


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


def _answered(response: httpx.Response, who: str) -> None:
    response.raise_for_status()
    try:
        data = response.json()
    except ValueError:
        raise ChannelError(f"{who}: not a JSON answer") from None
    if data.get("errcode") != 0:
        raise ChannelError(f"{who}: errcode {data.get('errcode')}: {data.get('errmsg')}")


def for_staff(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role is not None or m.user_id is not None]


class WeComRobotChannel:
    name = "wecom"

    def __init__(self, webhook_url: str, *, base_url: str = "", timeout: float = 10.0,
                 client: httpx.Client | None = None):
        self.url, self.base_url, self.timeout = webhook_url, base_url, timeout
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, messages: list[Message]) -> None:
        for content in _chunks([_line(m, self.base_url) for m in for_staff(messages)], WECOM_LIMIT):
            _answered(self.client.post(self.url, json={"msgtype": "markdown", "markdown": {"content": content}}),
                      "WeCom robot")


def dingtalk_signed(url: str, secret: str, now_ms: int | None = None) -> str:
    """The robot's URL with `timestamp` and `sign` (HMAC-SHA256 of "timestamp\\nsecret", Base64, URL-encoded)."""
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


class DingTalkRobotChannel:
    name = "dingtalk"

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


class SmsChannel:
    """One text per notification whose recipient has a phone (a dealer's contact, a user); `phones`
    maps a batch to {notification id: phone}. Notifications addressed to a role are left to the robots."""
    name = "sms"

    def __init__(self, provider: SmsProvider, phones: Callable[[list[Message]], dict[int, str]]):
        self.provider, self.phones = provider, phones

    def send(self, messages: list[Message]) -> None:
        phones = self.phones(messages)
        for m in messages:
            if m.id in phones:
                self.provider.send(phones[m.id], f"【dealerflow】{m.title}" + (f" {m.body}" if m.body else "")[:300])


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
