"""Credit scoring side effects: score every dealer, apply the changes, open and record the approval
of a limit increase, close the run."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dealerflow.contracts import (CreditApplyResult, CreditApprovalInput, CreditApprovalOutcomeInput,
                                  CreditScoreResult, CreditStepInput, TaskSpec)
from dealerflow.credit import runs as credit


class CreditActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def score_credit(self, inp: CreditStepInput) -> CreditScoreResult:
        try:
            with self.sessions.begin() as session:
                return credit.score_run(session, inp, progress=activity.heartbeat)
        except credit.CreditRunError as e:  # a month that cannot run, or no file: retrying will not help
            raise ApplicationError(str(e), type="CreditRunError", non_retryable=True) from None

    @activity.defn
    def apply_credit_changes(self, inp: CreditStepInput) -> CreditApplyResult:
        with self.sessions.begin() as session:
            return credit.apply_changes(session, inp)

    @activity.defn
    def credit_increase_task(self, inp: CreditApprovalInput) -> TaskSpec | None:
        with self.sessions.begin() as session:
            return credit.increase_task(session, inp)

    @activity.defn
    def record_credit_approval(self, inp: CreditApprovalOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return credit.record_approval(session, inp)

    @activity.defn
    def close_credit_run(self, inp: CreditStepInput) -> dict:
        with self.sessions.begin() as session:
            return credit.close_run(session, inp)

    def all(self) -> list:
        return [self.score_credit, self.apply_credit_changes, self.credit_increase_task, self.record_credit_approval,
                self.close_credit_run]
