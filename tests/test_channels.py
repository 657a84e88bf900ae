"""The WeCom and DingTalk robots, WeCom application messages and SMS against local HTTP servers that
check what their documents say: the payloads, DingTalk's signature over the timestamp and secret,
WeCom's access token, refusals kept unsent."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dealerflow.shared.channels import (ChannelError, DingTalkRobotChannel, HttpSmsProvider, SmsChannel,
                                        WeComAppChannel, WeComRobotChannel, dingtalk_signed)
from dealerflow.shared.notifications import Message

SECRET = "SEC0123456789abcdef"


class Robot:
    """A local HTTP server: records each request (path, query, JSON body) and answers `answer`."""

    def __init__(self, answer: dict | None = None, status: int = 200):
        self.requests, self.answer, self.status = [], answer or {"errcode": 0, "errmsg": "ok"}, status
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["content-length"])
                url = urllib.parse.urlsplit(self.path)
                robot.requests.append({"path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                                       "headers": dict(self.headers), "body": json.loads(self.rfile.read(length))})
                payload = json.dumps(robot.answer).encode()
                self.send_response(robot.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def robot():
    r = Robot()
    yield r
    r.close()


def message(i, **kw):
    return Message(**{"id": i, "kind": "task", "title": f"New task {i}", "body": "", "link": f"/console/tasks/{i}",
                      "role": "hq", "user_id": None, "dealer_id": None, **kw})


def test_wecom_robot_posts_markdown_within_its_limit(robot):
    channel = WeComRobotChannel(f"{robot.url}/cgi-bin/webhook/send?key=abc", base_url="https://df.example.com")
    channel.send([message(i) for i in range(200)] + [message(999, role=None, dealer_id=7)])
    assert len(robot.requests) > 1 and all(r["query"] == {"key": "abc"} for r in robot.requests)
    for r in robot.requests:
        assert r["body"]["msgtype"] == "markdown" and len(r["body"]["markdown"]["content"].encode()) <= 4096
    text = "".join(r["body"]["markdown"]["content"] for r in robot.requests)
    assert "**New task 0** [→](https://df.example.com/console/tasks/0)" in text
    assert "New task 999" not in text  # a dealer's notification is not posted to the staff group


def test_dingtalk_robot_signs_its_url_as_documented(robot):
    channel = DingTalkRobotChannel(f"{robot.url}/robot/send?access_token=tok", SECRET, clock=lambda: 1700000000000)
    channel.send([message(1, body="please decide")])
    [r] = robot.requests
    q = r["query"]
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{q['timestamp']}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert (q["access_token"], q["timestamp"], q["sign"]) == ("tok", "1700000000000", expected)
    assert r["body"] == {"msgtype": "markdown", "markdown": {"title": "New task 1",
                                                             "text": "**New task 1**\n> please decide"}}
    signed = dingtalk_signed("https://x/robot/send?access_token=t", SECRET, 1700000000000)
    assert signed.split("sign=")[1] == urllib.parse.quote_plus(expected)  # Base64's + / = URL-encoded


def test_a_refusal_raises_so_the_batch_stays_unsent():
    refusing = Robot({"errcode": 310000, "errmsg": "sign not match"})
    try:
        with pytest.raises(ChannelError, match="310000"):
            DingTalkRobotChannel(f"{refusing.url}/robot/send?access_token=t", SECRET).send([message(1)])
        with pytest.raises(ChannelError, match="310000"):
            WeComRobotChannel(f"{refusing.url}/send?key=k").send([message(1)])
    finally:
        refusing.close()


def test_sms_goes_to_the_recipients_phone_through_the_provider(robot):
    provider = HttpSmsProvider(f"{robot.url}/sms", token="t0k", sign="品牌")
    channel = SmsChannel(provider, lambda batch: {m.id: "13800000000" for m in batch if m.dealer_id})
    channel.send([message(1), message(2, role=None, dealer_id=5, title="您的诉求已办结")])
    [r] = robot.requests
    assert {k.lower(): v for k, v in r["headers"].items()}["authorization"] == "Bearer t0k"
    assert r["body"] == {"phone": "13800000000", "text": "【dealerflow】您的诉求已办结", "sign": "品牌"}


def test_the_worker_assembles_the_configured_channels(robot, sessions, stack_settings, make_dealer):
    from launcher.worker import channels_for
    settings = stack_settings.with_(notify_wecom_url=f"{robot.url}/w?key=k",
                                    notify_dingtalk_url=f"{robot.url}/d?access_token=t", notify_dingtalk_secret=SECRET,
                                    notify_sms_url=f"{robot.url}/sms")
    channels = channels_for(settings, sessions)
    assert [c.name for c in channels] == ["wecom", "dingtalk", "sms"]
    dealer = make_dealer(contact_phone="13900000001").dealer
    channels[2].send([message(3, role=None, dealer_id=dealer.id, title="Happy birthday")])
    assert robot.requests[-1]["body"]["phone"] == "13900000001"


class WeComApi:
    """A local WeCom API as documented: GET /cgi-bin/gettoken?corpid&corpsecret gives an access token;
    POST /cgi-bin/message/send?access_token=… takes an application message and checks its payload.
    `expire_once` answers the first send with 42001 (token expired), as WeCom does after 2 hours."""

    def __init__(self, expire_once: bool = False):
        self.tokens, self.sent, self.expire_once = [], [], expire_once
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, data):
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path != "/cgi-bin/gettoken" or (q.get("corpid"), q.get("corpsecret")) != ("ww0001", "s3cret"):
                    return self._answer({"errcode": 40013, "errmsg": "invalid corpid"})
                api.tokens.append(f"TOKEN{len(api.tokens)}")
                self._answer({"errcode": 0, "errmsg": "ok", "access_token": api.tokens[-1], "expires_in": 7200})

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if url.path != "/cgi-bin/message/send" or not api.tokens:
                    return self._answer({"errcode": 404, "errmsg": "not found"})
                if api.expire_once:
                    api.expire_once = False
                    return self._answer({"errcode": 42001, "errmsg": "access_token expired"})
                if q.get("access_token") != api.tokens[-1]:
                    return self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
                kind = body["msgtype"]
                ok = (isinstance(body["agentid"], int) and body["touser"] and kind in ("text", "textcard")
                      and (kind != "text" or body["text"]["content"])
                      and (kind != "textcard" or set(body["textcard"]) >= {"title", "description", "url"}))
                if not ok:
                    return self._answer({"errcode": 40008, "errmsg": "invalid message type"})
                api.sent.append(body)
                bad = [u for u in body["touser"].split("|") if u.startswith("nobody")]
                self._answer({"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(bad), "msgid": "m1"})

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


def test_wecom_application_messages_go_to_each_userid_with_one_token():
    from dealerflow.shared.notifications import Item
    api = WeComApi()
    try:
        channel = WeComAppChannel("ww0001", "s3cret", 1000002, api_url=api.url, base_url="https://df.example.com")
        linked = message(1, role=None, user_id=3, title="新任务：审批", body="请处理")
        plain = message(2, role=None, user_id=4, link=None, title="Happy birthday")
        out = channel.deliver([Item(10, linked, "zhangsan"), Item(11, linked, "nobody1"), Item(12, plain, "lisi")])
        assert api.tokens == ["TOKEN0"]  # one token for both calls
        card, text = api.sent
        assert card == {"touser": "zhangsan|nobody1", "agentid": 1000002, "safe": 0, "msgtype": "textcard",
                        "textcard": {"title": "新任务：审批", "description": "请处理",
                                     "url": "https://df.example.com/console/tasks/1", "btntxt": "详情"}}
        assert text == {"touser": "lisi", "agentid": 1000002, "safe": 0, "msgtype": "text",
                        "text": {"content": "Happy birthday"}}
        assert out[10] is None and out[12] is None
        assert isinstance(out[11], ChannelError) and out[11].permanent and "nobody1" in str(out[11])
    finally:
        api.close()


def test_wecom_fetches_a_new_token_when_the_old_one_expired_and_a_bad_secret_is_a_data_error():
    from dealerflow.shared.notifications import Item
    api = WeComApi(expire_once=True)
    try:
        channel = WeComAppChannel("ww0001", "s3cret", 7, api_url=api.url)
        assert channel.deliver([Item(1, message(5, link=None), "wangwu")]) == {1: None}
        assert api.tokens == ["TOKEN0", "TOKEN1"] and len(api.sent) == 1
        wrong = WeComAppChannel("ww0001", "wrong", 7, api_url=api.url).deliver([Item(2, message(6), "wangwu")])
        assert isinstance(wrong[2], ChannelError) and wrong[2].permanent and "40013" in str(wrong[2])
    finally:
        api.close()


def test_the_worker_adds_wecom_application_messages_when_configured(sessions, stack_settings):
    from launcher.worker import channels_for
    settings = stack_settings.with_(notify_wecom_corp_id="ww0001", notify_wecom_corp_secret="s3cret",
                                    notify_wecom_agent_id=1000002, notify_wecom_api_url="http://127.0.0.1:9")
    [channel] = channels_for(settings, sessions)
    assert (channel.name, channel.agent_id, channel.personal) == ("wecom_app", 1000002, True)


def test_robots_deliver_chunk_by_chunk_and_sms_refuses_a_bad_number(robot):
    from dealerflow.shared.notifications import Item
    channel = WeComRobotChannel(f"{robot.url}/cgi-bin/webhook/send?key=abc")
    out = channel.deliver([Item(i, message(i, body="x" * 1000), "") for i in range(10)])
    assert out == {i: None for i in range(10)} and len(robot.requests) > 1
    sms = SmsChannel(HttpSmsProvider(f"{robot.url}/sms"))
    before = len(robot.requests)
    out = sms.deliver([Item(1, message(1), "12345"), Item(2, message(2), "13800138000")])
    assert out[2] is None and out[1].permanent and "12345" in str(out[1])
    assert [r["body"]["phone"] for r in robot.requests[before:]] == ["13800138000"]
