"""Dealer requests: closing a request when its task is answered, and the SLA sweep."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.care import daily as care, points
from dealerflow.contracts import CareDayInput, CareDayResult, RedemptionSettleInput, ServiceCloseInput, ServiceClosed, ServiceSweepInput, ServiceSweepResult
from dealerflow.service import requests, sla
from dealerflow.shared.accounts import business_date


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

    @activity.defn
    def run_daily_care(self, inp: CareDayInput) -> CareDayResult:
        day = date.fromisoformat(inp.day) if inp.day else business_date(datetime.now(timezone.utc))
        with self.sessions.begin() as session:
            done = care.run_day(session, day)
        return CareDayResult(day.isoformat(), done.greeted, done.points, done.told_eve, done.contact_tasks,
                             done.offers, f"{done.credited:.2f}")

    @activity.defn
    def settle_redemption(self, inp: RedemptionSettleInput) -> str:
        with self.sessions.begin() as session:
            return points.settle(session, uuid.UUID(inp.redemption_id), inp.task, datetime.now(timezone.utc))

    def all(self) -> list:
        return [self.close_service_request, self.sweep_service_sla, self.run_daily_care, self.settle_redemption]
