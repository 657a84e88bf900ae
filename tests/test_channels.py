"""The WeCom and DingTalk robots and SMS against local HTTP servers that check what their documents
say: the payloads, DingTalk's signature over the timestamp and secret, refusals kept unsent."""
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
                                        WeComRobotChannel, dingtalk_signed)
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
