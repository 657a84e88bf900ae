"""Dealer requests: closing a request when its task is answered, and the SLA sweep."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.contracts import ServiceCloseInput, ServiceClosed, ServiceSweepInput, ServiceSweepResult
from dealerflow.service import requests, sla


class ServiceActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def close_service_request(self, inp: ServiceCloseInput) -> ServiceClosed:
        with self.sessions.begin() as session:
            return ServiceClosed(requests.close(session, uuid.UUID(inp.request_id), inp.task,
                                                datetime.now(timezone.utc)))

    @activity.defn
    def sweep_service_sla(self, inp: ServiceSweepInput) -> ServiceSweepResult:
        with self.sessions.begin() as session:
            return sla.sweep(session, inp.now or datetime.now(timezone.utc), batch=inp.batch)

    def all(self) -> list:
        return [self.close_service_request, self.sweep_service_sla]
