"""Settlement side effects: freeze a run's figures and issue statements, review the dealers'
answers, resolve disputes, open approvals, post rebates in batches, close the run."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dealerflow.shared import accounts
from dealerflow.rebates import settlement
from dealerflow.contracts import (ApprovalInput, ApprovalOutcomeInput, CloseRunInput, DisputeOutcomeInput,
                                  DueRunsInput, FreezeResult, PostInput, PostResult, ReviewInput, ReviewState,
                                  SettlementFailedInput, SettlementInput, TaskSpec)


class SettlementActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def freeze_run(self, inp: SettlementInput) -> FreezeResult:
        try:
            with self.sessions.begin() as session:
                return settlement.freeze(session, inp, now=datetime.now(timezone.utc), progress=activity.heartbeat)
        except settlement.SettlementError as e:  # e.g. the program's file changed: retrying will not help
            raise ApplicationError(str(e), type="SettlementError", non_retryable=True) from None
        except settlement.RunWaiting as e:  # retried with backoff until the earlier run closes
            raise ApplicationError(str(e), type="RunWaiting") from None

    @activity.defn
    def review_statements(self, inp: ReviewInput) -> ReviewState:
        with self.sessions.begin() as session:
            return settlement.review(session, inp.run_id, now=inp.now)

    @activity.defn
    def resolve_dispute(self, inp: DisputeOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return settlement.resolve_dispute(session, inp)

    @activity.defn
    def approval_task(self, inp: ApprovalInput) -> TaskSpec | None:
        with self.sessions.begin() as session:
            return settlement.approval_task(session, inp)

    @activity.defn
    def record_approval(self, inp: ApprovalOutcomeInput) -> None:
        with self.sessions.begin() as session:
            settlement.record_approval(session, inp)

    @activity.defn
    def post_rebates(self, inp: PostInput) -> PostResult:
        with self.sessions.begin() as session:
            return settlement.post_batch(session, inp.run_id, now=inp.now, limit=inp.limit)

    @activity.defn
    def close_run(self, inp: CloseRunInput) -> dict:
        with self.sessions.begin() as session:
            return settlement.close(session, inp.run_id, status=inp.status, now=inp.now)

    @activity.defn
    def settlement_failed(self, inp: SettlementFailedInput) -> None:
        with self.sessions.begin() as session:
            settlement.record_failure(session, inp)

    @activity.defn
    def due_runs(self, inp: DueRunsInput) -> list[SettlementInput]:
        with self.sessions() as session:
            _, spec = settlement.program(session, inp.program)
        return [plan.input(inp.actor) for plan in settlement.due_runs(spec, accounts.business_date(inp.now))]

    def all(self) -> list:
        return [self.freeze_run, self.review_statements, self.resolve_dispute, self.approval_task,
                self.record_approval, self.post_rebates, self.close_run, self.settlement_failed, self.due_runs]
