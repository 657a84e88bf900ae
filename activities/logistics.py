"""Logistics side effects: the dealer's receipt (confirmed, or confirmed by itself after the
configured time), HQ's answer to a damage or shortage report, and the tracking poll."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.contracts import PollInput, PollResult, ReceiptInput, ReceiptResult, ReportOutcomeInput, ToldInput
from dealerflow.logistics import parcels, tracking
from dealerflow.logistics.providers import FixtureProvider, Push

# Providers polled rather than pushed: the fixture provider (the demo and the tests). An aggregator
# that only answers queries gets its adapter here, with the same `poll` as the Provider protocol.
POLLED = {"fixture": lambda: FixtureProvider("")}


class LogisticsActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def confirm_receipt(self, inp: ReceiptInput) -> ReceiptResult:
        with self.sessions.begin() as session:
            return parcels.confirm_receipt(session, parcel_id=inp.parcel_id, actor=inp.actor, auto=inp.auto)

    @activity.defn
    def resolve_parcel_report(self, inp: ReportOutcomeInput) -> ReceiptResult:
        with self.sessions.begin() as session:
            return parcels.resolve_report(session, report_id=inp.report_id, task=inp.task)

    @activity.defn
    def poll_tracking(self, inp: PollInput) -> PollResult:
        now = datetime.now(timezone.utc)
        result = PollResult()
        for name, make in POLLED.items():
            provider = make()
            with self.sessions() as session:
                due = tracking.to_poll(session, name, now=now)
            if not due:
                continue
            tracks = provider.poll(due, now=now)
            with self.sessions.begin() as session:
                ingested = tracking.ingest(session, Push(name, tracking.poll_body(tracks), tuple(tracks)),
                                           source="poll")
            result.polled += len(due)
            result.events += ingested.new
            result.tell += ingested.tell
            result.cases += ingested.cases
        with self.sessions() as session:
            known = {p.parcel_id for p in result.tell}
            result.tell += [p for p in tracking.untold(session) if p.parcel_id not in known]
        return result

    @activity.defn
    def mark_parcels_told(self, inp: ToldInput) -> None:
        with self.sessions.begin() as session:
            tracking.mark_told(session, inp.parcel_ids)

    def all(self) -> list:
        return [self.confirm_receipt, self.resolve_parcel_report, self.poll_tracking, self.mark_parcels_told]
