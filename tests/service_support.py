"""Helpers of the dealer-request tests."""
from __future__ import annotations

from datetime import datetime

from dealerflow.service.rules import ruleset as service_rules
from policies_dsl.working_time import CHINA


def at(text: str) -> datetime:
    """Beijing time, as people read it: '2026-09-30 17:00'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


def file(client, dealer, *, category="product", subject="Door hinge squeaks", text="What grease do we use?",
         files=None):
    return client.post("/api/v1/service/requests", data={"category": category, "subject": subject, "text": text},
                       files=files or [], headers=dealer.headers)


def spec_of(sessions):
    with sessions() as s:
        return service_rules(s)[1]
