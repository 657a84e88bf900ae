"""Workers keep no state of their own: an order in flight survives its worker being killed, and
another worker process on the same task queue carries it to the end."""
from __future__ import annotations

import os
import signal
import subprocess

from fastapi.testclient import TestClient

from api.app import create_app
from launcher.processes import spawn, stop

from .support import wait_until


def start_worker(settings, name: str) -> subprocess.Popen:
    proc = spawn(["worker"], settings, name)
    log_path = settings.data_dir / name
    wait_until(lambda: b"worker polling" in log_path.read_bytes() or proc.poll() is not None, timeout=30)
    assert proc.poll() is None, log_path.read_text()
    return proc


def test_an_order_in_flight_survives_its_worker_being_killed(settings, make_dealer, make_user, product):
    dealer, approver = make_dealer(rating="C"), make_user("credit_manager")
    first = start_worker(settings, f"{settings.task_queue}-first.log")
    second = None
    try:
        with TestClient(create_app(settings)) as client:
            placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 2}]},
                                 headers=dealer.headers).json()
            assert placed["status"] == "pending_review"
            task_id = wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=approver.headers)
                                 .json()["review_task_id"])
            wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}", headers=approver.headers).status_code == 200)
            os.killpg(first.pid, signal.SIGKILL)  # no clean shutdown
            first.wait(10)
            second = start_worker(settings, f"{settings.task_queue}-second.log")
            r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "approve"}, headers=approver.headers)
            assert r.status_code == 200, r.text
            final = wait_until(lambda: (o := client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers)
                                        .json())["status"] == "approved" and o, timeout=30)
            assert [e["status"] for e in final["history"]] == ["submitted", "pending_review", "approved"]
            # and the new worker takes new orders as well
            assert client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                               headers=make_dealer().headers).json()["status"] == "approved"
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)
