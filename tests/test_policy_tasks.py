"""Policy tasks: evidence upload checks, review by a person, return and resubmit, points exactly
once, overdue tasks; questions and the FAQ; notifications through a webhook channel."""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from dealerflow.policies import tasks as policy_tasks
from dealerflow.contracts import EvidenceOutcomeInput, TaskResult
from dealerflow.models import Evidence, PointsEntry

from .conftest import WorkerThread
from .policy_support import FUTURE, PNG, assignment, deploy_and_publish, inbox_task, policy_yaml, publish_with_tasks, status, unique
from .support import wait_until

TASKS = """\
{key: window-photo, title: Photograph the window, due: 1h, evidence: [photo], reviewer: hq, points: 50}
{key: sales-report, title: Report sales, due: 2s, remind_before: 1s, evidence: [figures], reviewer: hq, points: 30}"""


@pytest.fixture
def rollout(client, make_dealer, make_user):
    return publish_with_tasks(client, make_dealer, make_user, TASKS)


def _review_task(client, hq, assignment_id):
    return inbox_task(client, hq, lambda t: t["kind"] == "evidence_review" and t["payload"]["assignment_id"] == assignment_id)


def _evidence_rows(sessions):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Evidence))


def test_submit_return_resubmit_accept_gives_points_exactly_once(client, rollout, sessions, settings, make_user):
    policy_id, hq, dealer, other = rollout
    photo = assignment(client, dealer, "window-photo")
    assert (photo["status"], photo["points"], photo["evidence_required"]) == ("assigned", 50, ["photo"])
    url = f"/api/v1/policy-tasks/{photo['id']}/evidence"

    # Bad input changes nothing: wrong type, too large, missing evidence, another dealer's task.
    before = _evidence_rows(sessions)
    r = client.post(url, files={"photo": ("window.png", b"just some text", "image/png")}, headers=dealer.headers)
    assert r.status_code == 415 and "content is unknown" in r.json()["detail"]
    big = PNG + b"\0" * (10 * 1024 * 1024)
    assert client.post(url, files={"photo": ("big.png", big, "image/png")}, headers=dealer.headers).status_code == 413
    r = client.post(url, data={"note": "no photo"}, headers=dealer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "photo"
    assert client.post(url, files={"photo": ("w.png", PNG, "image/png")}, headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/policy-tasks/{photo['id']}", headers=other.headers).status_code == 404
    assert _evidence_rows(sessions) == before
    assert not list(settings.evidence_path.rglob(".upload-*"))  # refused uploads leave no file behind

    r = client.post(url, files={"photo": ("window.png", PNG, "image/png")}, data={"note": "first try"},
                    headers=dealer.headers)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["status"] == "submitted" and sent["evidence"][0]["content_type"] == "image/png"
    assert sent["evidence"][0]["size"] == len(PNG) and len(sent["evidence"][0]["sha256"]) == 64
    assert client.post(url, files={"photo": ("w.png", PNG, "image/png")}, headers=dealer.headers).status_code == 409
    file = client.get(f"/api/v1/evidence/{sent['evidence'][0]['id']}", headers=hq.headers)
    assert file.status_code == 200 and file.content == PNG
    assert client.get(f"/api/v1/evidence/{sent['evidence'][0]['id']}", headers=other.headers).status_code == 404
    not_reviewer = make_user("credit_manager")  # the task's reviewer is hq
    assert client.get(f"/api/v1/evidence/{sent['evidence'][0]['id']}", headers=not_reviewer.headers).status_code == 404

    review = _review_task(client, hq, photo["id"])
    r = client.post(f"/api/v1/tasks/{review['id']}/complete", json={"outcome": "return", "comment": "sign not visible"},
                    headers=hq.headers)
    assert r.status_code == 200, r.text
    returned = wait_until(lambda: (a := assignment(client, dealer, "window-photo"))["status"] == "returned" and a)
    assert returned["review_comment"] == "sign not visible"

    r = client.post(url, files={"photo": ("window2.png", PNG + b"v2", "image/png")}, headers=dealer.headers)
    assert r.status_code == 201 and r.json()["submissions"] == 2
    second = wait_until(lambda: (t := _review_task(client, hq, photo["id"]))["id"] != review["id"] and t)
    client.post(f"/api/v1/tasks/{second['id']}/complete", json={"outcome": "accept"}, headers=hq.headers)
    wait_until(lambda: assignment(client, dealer, "window-photo")["status"] == "accepted")
    points = client.get("/api/v1/points", headers=dealer.headers).json()
    assert points["balance"] == 50 and [e["source_id"] for e in points["entries"]] == [photo["id"]]

    # The same acceptance applied again (a retried activity) writes no second entry.
    with sessions.begin() as s:
        again = policy_tasks.apply_review(s, EvidenceOutcomeInput(photo["id"], 2, TaskResult(second["id"], "accept", "x")))
    assert again == "accepted"
    with sessions() as s:
        assert s.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.dealer_id == dealer.dealer.id)) == 50
    assert client.get("/api/v1/points", headers=other.headers).json()["balance"] == 0
    tasks = {t["task_key"]: t for t in status(client, hq, policy_id)["tasks"]}
    assert (tasks["window-photo"]["assigned"], tasks["window-photo"]["accepted"]) == (2, 1)


def test_figures_evidence_and_overdue_tasks(client, rollout, sessions):
    policy_id, hq, dealer, other = rollout
    report = assignment(client, dealer, "sales-report")
    url = f"/api/v1/policy-tasks/{report['id']}/evidence"
    r = client.post(url, data={"figures": json.dumps({"units": "x"})}, headers=dealer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "figures.units"
    r = client.post(url, data={"figures": json.dumps({"units": 12, "revenue": "3450.50"})}, headers=dealer.headers)
    assert r.status_code == 201 and r.json()["evidence"][0]["figures"] == {"units": "12", "revenue": "3450.50"}

    # `other` never reports: reminded at 1 s, overdue at 2 s.
    def kinds():
        return [n["title"] for n in client.get("/api/v1/notifications", headers=other.headers).json()]
    wait_until(lambda: "Task overdue: Report sales" in kinds(), 20)
    assert "Task due soon: Report sales" in kinds()
    assert assignment(client, other, "sales-report")["overdue"] is True
    tasks = {t["task_key"]: t for t in status(client, hq, policy_id)["tasks"]}
    assert (tasks["sales-report"]["overdue"], tasks["sales-report"]["submitted"]) == (1, 1)


def test_questions_answers_and_faq(client, rollout, make_dealer):
    policy_id, hq, dealer, other = rollout
    outsider = make_dealer(region=unique("r"))
    r = client.post(f"/api/v1/policies/{policy_id}/questions", json={"question": "Does the kit count as an order?"},
                    headers=dealer.headers)
    assert r.status_code == 201
    qid = r.json()["id"]
    assert client.post(f"/api/v1/policies/{policy_id}/questions", json={"question": "?"},
                       headers=outsider.headers).status_code == 404
    assert client.post(f"/api/v1/policies/{policy_id}/questions", json={"question": ""},
                       headers=dealer.headers).status_code == 422
    assert client.get(f"/api/v1/policies/{policy_id}/questions", headers=other.headers).json() == []
    r = client.post(f"/api/v1/policies/{policy_id}/questions/{qid}/answer",
                    json={"answer": "Yes, at list price.", "publish_to_faq": True}, headers=hq.headers)
    assert r.status_code == 200 and r.json()["in_faq"] is True
    assert [q["answer"] for q in client.get(f"/api/v1/policies/{policy_id}/questions", headers=other.headers).json()] == [
        "Yes, at list price."]
    assert client.get(f"/api/v1/policies/{policy_id}", headers=other.headers).json()["faq"] == [
        {"question": "Does the kit count as an order?", "answer": "Yes, at list price."}]
    assert any("answered" in n["title"] for n in client.get("/api/v1/notifications", headers=dealer.headers).json())


class _Gateway(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.headers.get("authorization"), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_notifications_reach_a_webhook_gateway(settings, sessions, make_dealer, make_user):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook = settings.with_(notify_webhook_url=f"http://127.0.0.1:{server.server_port}/hook",
                             notify_webhook_token="s3cret", task_queue=f"test-{uuid.uuid4().hex[:12]}")
    worker = WorkerThread(webhook, sessions).start()
    try:
        with TestClient(create_app(webhook)) as client:
            region = unique("r")
            hq, dealer = make_user("hq"), make_dealer(region=region)
            policy_id = unique("p")
            deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}"',
                                                       ack="{required: true, deadline: 1h}", effective=FUTURE))
            def sent():
                return [n for auth, batch in _Gateway.received for n in batch["notifications"]
                        if n["dealer_id"] == dealer.dealer.id and auth == "Bearer s3cret"]
            note = wait_until(sent, 20)[0]
            assert note["title"] == "New policy: Spring display subsidy" and note["link"] == f"/console/policies/{policy_id}"
    finally:
        worker.stop()
        server.shutdown()
